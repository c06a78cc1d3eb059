"""Calibration files: versioned, validated, hashable, never overwritten, read by the XHand driver."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from tools import calibration_store as store


def _offsets(value: float = 0.01) -> dict[str, np.ndarray]:
    return {"joint_offsets_rad": np.linspace(-value, value, joints.HAND_DOF)}


def test_each_calibration_is_a_new_revision_and_the_old_ones_stay(tmp_path: Path) -> None:
    current = tmp_path / "calib" / "hand_joint_offsets.json"
    first = store.write_revision(current, cf.HAND_JOINT_OFFSETS, _offsets(0.01), "xhand1", {"frames": 10})
    first_bytes = first.path.read_bytes()
    second = store.write_revision(current, cf.HAND_JOINT_OFFSETS, _offsets(0.02), "xhand1")
    assert (first.revision, second.revision) == (1, 2)
    assert current.is_symlink() and current.resolve() == second.path.resolve()
    assert first.path.read_bytes() == first_bytes  # untouched
    assert second.previous == {"path": first.path.name, "sha256": first.sha256}
    assert [r for r, _ in store.revisions(current)] == [1, 2]
    loaded = cf.load_joint_offsets(current)
    np.testing.assert_allclose(loaded.arrays["joint_offsets_rad"], _offsets(0.02)["joint_offsets_rad"])
    assert cf.file_identity(current, cf.HAND_JOINT_OFFSETS) == {
        "path": str(second.path.resolve()),
        "sha256": cf.sha256_of(second.path),
        "kind": cf.HAND_JOINT_OFFSETS,
        "revision": 2,
    }
    leftovers = [p.name for p in current.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary files or links left behind


def test_a_revision_file_is_never_replaced(tmp_path: Path) -> None:
    from tools.atomic import write_json_new

    path = tmp_path / "x.r0001.json"
    write_json_new(path, {"a": 1})
    with pytest.raises(FileExistsError):
        write_json_new(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}


def test_an_unversioned_file_is_kept_as_revision_zero(tmp_path: Path) -> None:
    current = tmp_path / "tactile.json"
    zero = np.full(joints.TACTILE_SHAPE, 0.1)
    current.write_text(json.dumps({"tactile_zero_n": zero.tolist()}))
    legacy = cf.load_tactile_baseline(current)
    assert legacy.format_version == 0 and legacy.revision == 0
    np.testing.assert_allclose(legacy.arrays["baseline_n"], 0.1)
    new = store.write_revision(
        current, cf.TACTILE_BASELINE, {"baseline_n": zero * 2, "noise_floor_n": np.full(joints.TACTILE_SHAPE, 0.01)}
    )
    assert store.revision_path(current, 0).exists() and new.revision == 1
    assert new.previous is not None and new.previous["sha256"] == legacy.sha256


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(kind="tactile_baseline"), "holds a 'tactile_baseline' calibration"),
        (lambda d: d.update(format_version=9), "format_version 9 is not supported"),
        (lambda d: d["data"].update(joint_offsets_rad=[0.0] * 11), r"shape \(12,\)"),
        (lambda d: d["data"].update(joint_offsets_rad=[float("nan")] + [0.0] * 11), r"joint_offsets_rad\[0\]"),
        (lambda d: d["data"].update(joint_names=list(reversed(joints.HAND_JOINT_NAMES))), "canonical order"),
        (lambda d: d.update(revision=-1), "revision must be a positive integer"),
        (lambda d: d.update(format="other"), "is not 'dexscrew-calibration'"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, mutate, message: str) -> None:
    doc = cf.document(cf.HAND_JOINT_OFFSETS, 1, _offsets(), "2026-01-01T00:00:00Z")
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    with pytest.raises(cf.CalibrationFileError, match=message):
        cf.load_joint_offsets(path)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(cf.CalibrationFileError, match="cannot read"):
        cf.load_joint_offsets(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(cf.CalibrationFileError, match="not valid JSON"):
        cf.load_joint_offsets(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(cf.CalibrationFileError, match="neither a versioned calibration"):
        cf.load_joint_offsets(tmp_path / "other.json")


def test_the_xhand_driver_applies_a_versioned_file_and_reports_its_identity(tmp_path: Path) -> None:
    from drivers.xhand import XHandConfig, XHandConnection

    offsets_link = tmp_path / "hand_joint_offsets.json"
    offsets = store.write_revision(offsets_link, cf.HAND_JOINT_OFFSETS, _offsets(0.03))
    baseline_link = tmp_path / "tactile_baseline.json"
    arrays = {"baseline_n": np.full(joints.TACTILE_SHAPE, 0.2), "noise_floor_n": np.zeros(joints.TACTILE_SHAPE)}
    baseline = store.write_revision(baseline_link, cf.TACTILE_BASELINE, arrays)
    conn = XHandConnection(XHandConfig(joint_offsets_file=str(offsets_link), tactile_zero_file=str(baseline_link)))
    np.testing.assert_allclose(conn.joint_offsets, _offsets(0.03)["joint_offsets_rad"])
    np.testing.assert_allclose(conn.tactile_zero, 0.2)
    assert conn.calibration[cf.HAND_JOINT_OFFSETS]["sha256"] == offsets.sha256
    assert conn.calibration[cf.TACTILE_BASELINE]["revision"] == baseline.revision
    assert os.path.samefile(conn.calibration[cf.HAND_JOINT_OFFSETS]["path"], offsets.path)
