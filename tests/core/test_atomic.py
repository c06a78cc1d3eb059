"""The one whole-file write helper (dexscrew_sdk.atomic): old or new file, never half of one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dexscrew_sdk import atomic

REPO = Path(__file__).resolve().parents[2]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "results.json"
    atomic.write_json_atomic(path, {"b": 1, "a": [1, 2]}, sort_keys=True)
    atomic.write_json_atomic(path, {"b": 2})
    assert json.loads(path.read_text()) == {"b": 2}
    atomic.write_atomic(tmp_path / "blob.bin", lambda f: f.write(b"\x00\x01"))
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\x01"
    assert _leftovers(path.parent) == [] and _leftovers(tmp_path) == []


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_behind(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"old")

    def half_then_fail(f: object) -> None:
        f.write(b"new, half written")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # Ctrl-C in the middle of a save

    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(path, half_then_fail)
    with pytest.raises(TypeError):  # not JSON: refused before anything is renamed
        atomic.write_json_atomic(path, {"x": object()})
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_write_json_new_never_touches_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "rev_0001.json"
    atomic.write_json_new(path, {"a": 1})
    with pytest.raises(FileExistsError):
        atomic.write_json_new(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1} and _leftovers(tmp_path) == []


def test_point_link_swaps_a_link_in_one_step(tmp_path: Path) -> None:
    (tmp_path / "r1").write_text("1")
    (tmp_path / "r2").write_text("2")
    atomic.point_link(tmp_path / "current", tmp_path / "r1")
    atomic.point_link(tmp_path / "current", tmp_path / "r2")
    assert (tmp_path / "current").read_text() == "2" and os.readlink(tmp_path / "current") == "r2"


def test_the_helper_loads_on_its_own_without_the_sdk_package(tmp_path: Path) -> None:
    """The Python 3.8 (IsaacGym) training path loads it by file: it must need nothing of the SDK."""
    code = (
        "import sys; sys.version_info = (3, 8, 10); "
        "from policies.rl.sdk import sdk_module; from pathlib import Path; "
        f"a = sdk_module('atomic'); a.write_json_atomic(Path({str(tmp_path / 'x.json')!r}), {{'ok': 1}}); "
        "print('dexscrew_sdk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.stdout.split() == ["False"], out.stderr
    assert json.loads((tmp_path / "x.json").read_text()) == {"ok": 1}


def test_a_large_write_reaches_the_kernel_in_pieces_and_arrives_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One write() of many megabytes stalls in dirty-page throttling; the helper splits it."""
    import numpy as np

    sizes: list[int] = []
    real_write = os.write

    def counting(fd: int, data: bytes) -> int:
        sizes.append(memoryview(data).nbytes)
        return real_write(fd, data)

    monkeypatch.setattr(atomic.os, "write", counting)
    data = np.random.default_rng(0).random(700_000)  # 5.6 MB of float64, written as one buffer
    atomic.write_atomic(tmp_path / "big.bin", lambda f: f.write(memoryview(data)))
    assert (tmp_path / "big.bin").read_bytes() == data.tobytes()
    assert sum(sizes) == data.nbytes and len(sizes) == -(-data.nbytes // atomic.WRITE_CHUNK_BYTES)
    assert max(sizes) <= atomic.WRITE_CHUNK_BYTES
