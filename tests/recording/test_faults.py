"""Faults: a killed recorder, a size limit, a full or read-only filesystem, an unwritable path,
damaged files. Each ends with a clear error and nothing already written damaged."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cli import main as cli_main
from dexscrew_sdk.recording import Recorder, StorageError, load_episode
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from tests.conftest import REPO, wait_until

CHILD = [sys.executable, "-m", "tests.recording.child_recorder"]


def _lines(report: Path) -> list[dict]:
    if not report.exists():
        return []
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def _flushed(report: Path) -> int:
    return max((d["flushed"] for d in _lines(report) if "flushed" in d), default=0)


def _run_child(args: list[str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)


def test_sigkill_mid_episode_keeps_finished_episodes_and_the_partial_one_is_recoverable(tmp_path: Path) -> None:
    root, report = tmp_path / "ds", tmp_path / "report.jsonl"
    log = (tmp_path / "child.err").open("wb")
    proc = subprocess.Popen([*CHILD, str(root), str(report), "--finished", "2"], cwd=REPO, stderr=log)
    try:
        wait_until(lambda: _flushed(report) >= 25, 60.0, "the child to flush 25 steps of its third episode")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    flushed = _flushed(report)  # every step the child saw flushed before it died
    finished = [d for d in _lines(report) if "finished" in d]
    assert [d["finished"] for d in finished] == [0, 1]
    for d in finished:
        assert len(load_episode(Path(d["path"]))) == d["steps"]

    assert cli_main(["dataset", "check", str(root)]) == 1  # the unfinished log is named, not ignored
    (root / "episodes" / ".episode_000001.npz.tmp").write_bytes(b"PK half")  # as if killed while finishing
    assert cli_main(["dataset", "recover", str(root)]) == 0
    assert not list((root / "episodes").glob(".*.tmp"))
    ds = Dataset(root)
    assert ds.episode_indices() == [0, 1, 2]
    recovered = ds[2]
    assert recovered.meta["recovered"] is True and recovered.meta["end_reason"] == "recovered"
    assert len(recovered) >= flushed  # up to the last flushed step (a step may land after the report)
    np.testing.assert_array_equal(recovered["step_index"], np.arange(len(recovered)))
    assert cli_main(["dataset", "check", str(root)]) == 0


def test_a_file_size_limit_is_a_clear_error_and_damages_nothing(tmp_path: Path) -> None:
    root, report = tmp_path / "ds", tmp_path / "report.jsonl"
    limit = 1_000_000  # ~130 steps of log: the finished 30-step episodes fit, the long one does not
    out = _run_child([*CHILD, str(root), str(report), "--fsize-limit-bytes", str(limit), "--steps", "1000"])
    assert out.returncode == 3, out.stderr
    last = _lines(report)[-1]
    assert last["errno"] == errno.EFBIG and "file size limit" in last["storage_error"]
    assert "Episodes already finished are intact" in last["storage_error"]
    assert [len(load_episode(p)) for p in sorted((root / "episodes").glob("*.npz"))] == [30, 30]
    assert cli_main(["dataset", "recover", str(root)]) == 0
    assert len(Dataset(root)[2]) == last["flushed"]  # the torn last frame is dropped, nothing else


def test_a_parent_path_that_is_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(StorageError, match="regular file, not a directory"):
        Recorder(tmp_path / "notes.txt" / "dataset")
    assert (tmp_path / "notes.txt").read_text() == "not a folder"


def _private_tmpfs(script: str) -> list[str]:
    """A shell running `script` with a private tmpfs (user + mount namespace; no root on the host needed)."""
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-ec", script]


def _namespaces_available() -> str:
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    probe = subprocess.run(
        _private_tmpfs("d=$(mktemp -d); mount -t tmpfs -o size=64k tmpfs $d; echo ok"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return "" if probe.stdout.strip() == "ok" else f"cannot mount a private tmpfs here: {probe.stderr.strip()}"


needs_tmpfs = pytest.mark.skipif(bool(_namespaces_available()), reason=_namespaces_available() or "ok")


@needs_tmpfs
def test_a_full_filesystem_is_a_clear_error_and_damages_nothing(tmp_path: Path) -> None:
    mnt, report = tmp_path / "mnt", tmp_path / "report.jsonl"
    mnt.mkdir()
    child = " ".join([*CHILD, f"{mnt}/ds", str(report), "--steps", "5000", "--verify"])
    out = _run_child(_private_tmpfs(f"mount -t tmpfs -o size=1m tmpfs {mnt}; cd {REPO}; {child} || test $? -eq 3"))
    assert out.returncode == 0, out.stderr
    last = _lines(report)[-1]
    assert last["errno"] == errno.ENOSPC and "the filesystem is full" in last["storage_error"]
    assert last["finished_intact"] == [30, 30]  # both finished episodes load, CRCs checked
    assert last["partial_rows"] == [last["flushed"]]  # every flushed step is in the log, the torn one is not
    assert last["leftover_tmp"] == []


@needs_tmpfs
def test_a_read_only_dataset_is_a_clear_error_and_stays_readable(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "record_one.py").write_text(
        "from dexscrew_sdk.recording.synthetic import record_synthetic_dataset\n"
        f"record_synthetic_dataset({str(mnt / 'ds')!r}, episodes=1, steps=10)\n"
    )
    (tmp_path / "resume.py").write_text(
        "from dexscrew_sdk.recording import Recorder, StorageError\n"
        "from dexscrew_sdk.recording.dataset import Dataset\n"
        "for name in ('ds', 'fresh'):\n"
        "    try:\n"
        f"        Recorder({str(mnt)!r} + '/' + name)\n"
        "    except StorageError as exc:\n"
        "        print(name.upper(), exc)\n"
        f"print('EPISODE', len(Dataset({str(mnt / 'ds')!r})[0]))\n"
    )
    script = (
        f"mount -t tmpfs -o size=4m tmpfs {mnt}; cd {REPO}; {sys.executable} {tmp_path}/record_one.py; "
        f"mount -o remount,ro {mnt}; {sys.executable} {tmp_path}/resume.py"
    )
    out = _run_child(_private_tmpfs(script))
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert "the location is read-only" in lines["DS"]
    assert lines["EPISODE"] == "10"
    assert "read-only" in lines["FRESH"]


def test_a_corrupted_or_truncated_episode_is_detected_and_named(tmp_path: Path, capsys) -> None:
    root = tmp_path / "ds"
    from dexscrew_sdk.recording.synthetic import record_synthetic_dataset

    record_synthetic_dataset(root, episodes=3, steps=20)
    flipped, cut = root / "episodes" / "episode_000000.npz", root / "episodes" / "episode_000002.npz"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit-flipped byte inside the tactile array
    flipped.write_bytes(bytes(data))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 3])
    capsys.readouterr()
    assert cli_main(["dataset", "check", str(root)]) == 1
    err = capsys.readouterr().err
    assert "CORRUPTED episode_000000.npz" in err and "CORRUPTED episode_000002.npz" in err
    assert "episode_000001.npz" not in err
    assert len(Dataset(root)[1]) == 20  # the intact one still loads


def test_a_damaged_log_is_recovered_up_to_the_damage(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rec = Recorder(root)
    ep = rec.begin(synthetic_meta())
    for s in synthetic_steps(20):
        ep.append(s)
    rec.close()  # the process "dies" with the episode open
    log = ep.log_path
    data = bytearray(log.read_bytes())
    row = (len(data) - 0) // 21  # ~ one frame per step after the header
    data[-5 * row] ^= 0x01  # damage inside step 16's frame
    log.write_bytes(bytes(data))
    assert cli_main(["dataset", "recover", str(root)]) == 0
    e = Dataset(root)[0]
    assert 10 < len(e) < 20 and "checksum" in e.meta["end_detail"]["damage"]
    np.testing.assert_array_equal(e["step_index"], np.arange(len(e)))


def test_after_a_refused_write_the_episode_is_closed_and_the_next_one_can_begin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dexscrew_sdk.recording import RecordingError
    from dexscrew_sdk.recording import log as log_mod

    root = tmp_path / "ds"
    steps = list(synthetic_steps(8))
    real_write = os.write
    with Recorder(root) as rec:
        ep = rec.begin(synthetic_meta())
        for s in steps[:5]:
            ep.append(s)

        def torn_write(fd: int, data) -> int:
            real_write(fd, bytes(data[:100]))  # half a frame reaches the disk, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(log_mod.os, "write", torn_write)
        with pytest.raises(StorageError, match="closed with 5 steps"):
            ep.append(steps[5])
        monkeypatch.setattr(log_mod.os, "write", real_write)  # space is back
        with pytest.raises(RecordingError, match="already ended"):
            ep.append(steps[6])  # nothing may follow the torn frame
        nxt = rec.begin(synthetic_meta(seed=1))
        for s in synthetic_steps(3, seed=1):
            nxt.append(s)
        nxt.end(success=True).wait()
    assert cli_main(["dataset", "recover", str(root)]) == 0
    ds = Dataset(root)
    assert [len(ds[i]) for i in ds.episode_indices()] == [5, 3]
    assert "truncated" in ds[0].meta["end_detail"]["damage"]
