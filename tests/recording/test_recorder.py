"""The recorder: what a step row holds, what it refuses, resuming, locking, never stalling."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.recording import (
    ControlEvent,
    OperatorEvent,
    Recorder,
    RecordingError,
    SampleFlag,
    StepRecordError,
    load_episode,
)
from dexscrew_sdk.recording import recorder as recorder_mod
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from dexscrew_sdk.records import TactileFrame


def _record(root: Path, n: int = 20, **kw) -> Path:
    with Recorder(root, **kw) as rec:
        ep = rec.begin(synthetic_meta())
        for s in synthetic_steps(n):
            ep.append(s)
        return ep.end(success=True).wait().path


def test_an_episode_holds_what_was_sent_and_measured_with_each_sources_stamp(tmp_path: Path) -> None:
    steps = list(synthetic_steps(12))
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta(seed=7))
        for s in steps:
            ep.append(s)
        done = ep.end(success=True).wait()
    e = load_episode(done.path)
    assert len(e) == 12 and e.meta["success"] is True and e.meta["seed"] == 7
    np.testing.assert_allclose(e["action_rad"][3, :12], steps[3].hand_target_rad, atol=1e-6)
    np.testing.assert_allclose(e["action_rad"][3, 12:], steps[3].arm_target_rad, atol=1e-6)
    np.testing.assert_allclose(e["q_rad"][5, 12:], steps[5].arm.q_rad, atol=1e-6)
    assert e["tactile_force_n"].dtype == np.float32 and e["tactile_force_n"].shape == (12, 5, 120, 3)
    assert e["arm_stamp_ns"][4] == steps[4].arm.stamp_ns and e["tactile_seq"][4] == steps[4].tactile.seq
    assert e["stamp_ns"][4] == steps[4].stamp_ns
    assert e.meta["git_commit"] and e.meta["software_version"]
    assert e.meta["field_doc"]["action_rad"].startswith("[hand 12, arm 6]")


def test_episode_files_load_with_numpy_alone(tmp_path: Path) -> None:
    path = _record(tmp_path / "ds")
    code = (
        "import sys, json, numpy as np\n"
        f"z = np.load({str(path)!r})\n"
        "meta = json.loads(z['meta_json'].tobytes())\n"
        "assert z['q_rad'].shape == (meta['n_steps'], 18)\n"
        "print(sorted(m for m in sys.modules if m.startswith('dexscrew')))\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_late_and_missing_samples_are_flagged_not_padded(tmp_path: Path) -> None:
    steps = list(synthetic_steps(6))
    steps[2] = replace(steps[2], tactile=None)  # no tactile sample at all
    t = steps[4].tactile
    steps[4] = replace(steps[4], tactile=TactileFrame(t.seq, steps[4].stamp_ns - 60_000_000, t.force_n))  # 60 ms old
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        for s in steps:
            ep.append(s)
        e = load_episode(ep.end(success=None).wait().path)
    flags = e["sample_flags"]
    assert flags[2] & SampleFlag.TACTILE_MISSING and np.isnan(e["tactile_force_n"][2]).all()
    assert e["tactile_seq"][2] == -1 and e["tactile_stamp_ns"][2] == 0
    assert flags[4] & SampleFlag.TACTILE_LATE and not flags[4] & SampleFlag.TACTILE_MISSING
    assert e["tactile_stamp_ns"][4] == steps[4].stamp_ns - 60_000_000  # the real (old) stamp is kept
    assert flags[0] == flags[1] == flags[3] == flags[5] == 0
    assert e.meta["missing_samples"]["tactile"] == 1 and e.meta["late_samples"]["tactile"] == 1


def test_a_rejected_command_is_recorded_beside_the_command_in_effect(tmp_path: Path) -> None:
    steps = list(synthetic_steps(3))
    bad = np.full(6, np.nan)
    steps[1] = replace(steps[1], arm_target_rad=steps[0].arm_target_rad, arm_rejected_target_rad=bad)
    steps[2] = replace(steps[2], control_events=ControlEvent.IK_FAILED, operator_events=OperatorEvent.SKILL_START)
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        for s in steps:
            ep.append(s)
        ep.event("ik_failed", reason="target outside the workspace", pose=[0.1, 0.2, 0.3])
        e = load_episode(ep.end(success=None).wait().path)
    assert e["control_events"][1] & ControlEvent.ARM_REJECTED
    np.testing.assert_allclose(e["action_rad"][1, 12:], steps[0].arm_target_rad, atol=1e-6)
    assert np.isnan(e["rejected_target_rad"][1]).all()
    assert e["control_events"][2] & ControlEvent.IK_FAILED and e["operator_events"][2] & OperatorEvent.SKILL_START
    assert e.events == [
        {
            "kind": "ik_failed",
            "step_index": 2,
            "detail": {"reason": "target outside the workspace", "pose": [0.1, 0.2, 0.3]},
        }
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hand_target_rad": np.zeros(11)}, "hand_target_rad"),
        ({"arm_target_rad": np.array([0, 0, 0, 0, 0, np.inf])}, "arm_target_rad"),
        ({"arm_target_rad": "six numbers"}, "arm_target_rad"),
        ({"step_index": 0}, "step_index"),
        ({"stamp_ns": 5}, "stamp_ns"),
    ],
)
def test_a_malformed_step_names_its_field_and_writes_nothing(tmp_path: Path, change: dict, field: str) -> None:
    steps = list(synthetic_steps(3))
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        ep.append(steps[0])
        ep.append(steps[1])
        with pytest.raises(StepRecordError, match=field):
            ep.append(replace(steps[2], **change))
        ep.append(steps[2])  # the episode goes on
        e = load_episode(ep.end(success=True).wait().path)
    assert list(e["step_index"]) == [0, 1, 2]


def test_bad_metadata_and_settings_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(StepRecordError, match="fsync"):
        Recorder(tmp_path / "a", fsync="sometimes")
    with Recorder(tmp_path / "ds") as rec:
        with pytest.raises(StepRecordError, match="control_hz"):
            rec.begin(replace(synthetic_meta(), control_hz=0))
        with pytest.raises(StepRecordError, match="task"):
            rec.begin(replace(synthetic_meta(), task=""))
        with pytest.raises(StepRecordError, match="calibration_files"):
            rec.begin(replace(synthetic_meta(), calibration_files=["hand.json"]))
        ep = rec.begin(synthetic_meta())
        with pytest.raises(RecordingError, match="still being recorded"):
            rec.begin(synthetic_meta())
        ep.discard()
        with pytest.raises(RecordingError, match="already ended"):
            ep.append(next(synthetic_steps(1)))


def test_recording_resumes_into_an_existing_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _record(root)
    _record(root)
    ds = Dataset(root)
    assert ds.episode_indices() == [0, 1]
    uuids = {e["episode_uuid"] for e in ds.entries()}
    assert len(uuids) == 2


def test_a_discarded_attempt_leaves_nothing(tmp_path: Path) -> None:
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        for s in synthetic_steps(5):
            ep.append(s)
        ep.discard()
    ds = Dataset(tmp_path / "ds")
    assert len(ds) == 0 and ds.dir.log_files() == []


def test_a_second_writer_on_the_same_dataset_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with Recorder(root):
        code = f"from dexscrew_sdk.recording import Recorder; Recorder({str(root)!r})"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "DatasetBusyError" in out.stderr and "another process" in out.stderr
    with Recorder(root):  # released on close
        pass


def test_ending_an_episode_never_stalls_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = recorder_mod.finalize_log

    def slow_finalize(*args, **kw):
        gate.wait(30)  # a slow disk: finalisation blocks until released
        return real(*args, **kw)

    monkeypatch.setattr(recorder_mod, "finalize_log", slow_finalize)
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        for s in synthetic_steps(10):
            ep.append(s)
        first = ep.end(success=True)
        ep2 = rec.begin(synthetic_meta(seed=1))  # while the first is still being finalised
        for s in synthetic_steps(10, seed=1):
            ep2.append(s)
        assert not first.done()
        gate.set()
        second = ep2.end(success=False)
        assert first.wait().index == 0 and second.wait().index == 1
        assert first.wait().finalize_ms > 0


def test_an_ended_episode_is_finished_from_exactly_what_its_log_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's in-memory copy (which finishes an ended episode) equals the log read back, events,
    numpy values in metadata and a source-stopped end included, and both give the same episode file."""
    real = recorder_mod.finalize_log
    seen: list[tuple[np.ndarray, object, object]] = []

    def compare(dataset, log_path, t0=None, recovered=False, contents=None):
        from_log = recorder_mod.read_log(log_path)
        seen.append((contents.rows.to_array(), contents, from_log))  # the blocks are released afterwards
        return real(dataset, log_path, t0, recovered, contents)

    monkeypatch.setattr(recorder_mod, "finalize_log", compare)
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta(seed=3))
        for i, s in enumerate(synthetic_steps(30, seed=3)):
            ep.append(s)
            if i % 10 == 4:
                ep.event("ik_failure", residual_m=np.float32(0.25), joints=np.arange(3), note=f"step {i}")
        done = ep.source_stopped("tactile", "no frame for 1.2 s").wait()
    assert len(seen) == 1
    mem_rows, mem, disk = seen[0]
    assert mem.header == disk.header and mem.events == disk.events and mem.end == disk.end
    assert len(mem.events) == 3 and mem.end["end_reason"] == "source_stopped"
    assert mem_rows.dtype == disk.rows.dtype and mem_rows.tobytes() == disk.rows.tobytes() and len(mem_rows) == 30
    assert (mem.valid_bytes, mem.total_bytes, mem.damage) == (disk.valid_bytes, disk.total_bytes, disk.damage)
    assert load_episode(done.path).meta["n_steps"] == 30


def test_fsync_per_step_records_the_same_rows(tmp_path: Path) -> None:
    a = load_episode(_record(tmp_path / "a", fsync="step"))
    assert a.meta["fsync"] == "step" and len(a) == 20


def test_the_index_is_rebuilt_from_the_episodes_when_it_is_lost_or_stale(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _record(root)
    _record(root)
    (root / "index.json").write_text("{ not json")
    assert Dataset(root).episode_indices() == [0, 1]
    idx = json.loads((root / "index.json").read_text())
    idx["episodes"] = idx["episodes"][:1]
    (root / "index.json").write_text(json.dumps(idx))
    assert Dataset(root).episode_indices() == [0, 1]


def test_a_silent_source_closes_and_marks_the_episode_without_padding(tmp_path: Path) -> None:
    from dexscrew_sdk.recording import SourceStoppedError

    steps = list(synthetic_steps(40))
    frozen = steps[9].tactile  # the tactile node stops publishing after step 9
    fed = 0
    with Recorder(tmp_path / "ds", source_timeout_s=0.5) as rec:
        ep = rec.begin(synthetic_meta())
        with pytest.raises(SourceStoppedError, match="tactile") as info:
            for s in steps:
                ep.append(replace(s, tactile=frozen) if s.step_index > 9 else s)
                fed += 1
        assert info.value.sources == ("tactile",)
    assert [f.end_reason for f in rec.finished] == ["source_stopped"]  # close() waited for it
    e = Dataset(tmp_path / "ds")[0]
    assert e.meta["end_reason"] == "source_stopped" and e.meta["success"] is None
    assert e.meta["end_detail"]["sources"] == ["tactile"]
    assert len(e) == fed + 1 < len(steps)  # rows stop where the source was declared stopped
    late = e["sample_flags"] & SampleFlag.TACTILE_LATE
    assert not late[:10].any() and late[10:].all()  # a 54 ms old sample is late at 20 Hz
    assert (e["tactile_seq"][10:] == frozen.seq).all()  # what was really read, not padding
    assert not Dataset(tmp_path / "ds").dir.log_files()


def test_calibration_files_come_from_what_the_devices_report(tmp_path: Path) -> None:
    from dexscrew_sdk.recording.schema import calibration_files_of
    from dexscrew_sdk.records import DeviceInfo

    class Dev:
        def __init__(self, kind: str, extra: dict) -> None:
            self._info = DeviceInfo(kind, "model", extra=extra)

        def info(self) -> DeviceInfo:
            return self._info

    hand = Dev("hand", {"calibration": {"hand_joint_offsets": {"path": "/cal/h.json", "sha256": "ab", "revision": 3}}})
    files = calibration_files_of([hand, Dev("arm", {})])
    assert files == [
        {"device": "hand", "kind": "hand_joint_offsets", "path": "/cal/h.json", "sha256": "ab", "revision": 3}
    ]
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(replace(synthetic_meta(), calibration_files=files))
        ep.append(next(synthetic_steps(1)))
        assert load_episode(ep.end(success=None).wait().path).meta["calibration_files"] == files


def test_episode_members_are_stored_uncompressed_so_readers_can_memory_map_them(tmp_path: Path) -> None:
    import zipfile

    from numpy.lib import format as npy_format

    path = _record(tmp_path / "ds")
    with zipfile.ZipFile(path) as z:
        infos = {i.filename: i for i in z.infolist()}
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
    info = infos["q_rad.npy"]
    with open(path, "rb") as f:  # the member is a plain .npy at a fixed offset: map it in place
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), "<u2")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = npy_format.read_magic(f)
        assert version == (1, 0)
        shape, _, dtype = npy_format.read_array_header_1_0(f)
        mapped = np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape)
    np.testing.assert_array_equal(mapped, load_episode(path)["q_rad"])


def test_numpy_values_in_metadata_and_events_are_recorded_as_numbers(tmp_path: Path) -> None:
    meta = replace(synthetic_meta(), operator_params={"gain": np.float32(2.5), "offset_m": np.zeros(3)})
    with Recorder(tmp_path / "ds") as rec:
        with pytest.raises(StepRecordError, match="JSON-serialisable"):
            rec.begin(replace(synthetic_meta(), operator_params={"device": object()}))
        assert Dataset(tmp_path / "ds").dir.log_files() == []  # the refused header left no file
        ep = rec.begin(meta)
        ep.append(next(synthetic_steps(1)))
        ep.event("ik_failed", target_pose=np.arange(6.0), joint=np.int64(3))
        with pytest.raises(StepRecordError, match="JSON-serialisable"):
            ep.event("note", handle=open)
        e = load_episode(ep.end(success=True).wait().path)
    assert e.meta["operator_params"] == {"gain": 2.5, "offset_m": [0.0, 0.0, 0.0]}
    assert e.events[0]["detail"] == {"target_pose": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "joint": 3}
