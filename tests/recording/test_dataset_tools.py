"""`dexscrew dataset info|merge|filter|trim|delete|view|replay` on a recorded dataset."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.cli import main as cli_main
from dexscrew_sdk.recording import DatasetError, Recorder, ops
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.ops import idle_span
from dexscrew_sdk.recording.replay import EpisodeReplayer, replay_episode
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from tests.conftest import NodeProcess


def _json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_info_counts_episodes_steps_and_labels_per_task(recorded_dataset: Path, capsys) -> None:
    assert cli_main(["dataset", "info", str(recorded_dataset)]) == 0
    info = _json_out(capsys)
    assert info["episodes"] == 4 and info["steps"] == 160 and info["duration_s"] == 8.0
    assert info["by_task"]["nut/square"] == {"episodes": 2, "steps": 80, "success": 2, "failure": 0, "unlabelled": 0}
    assert info["by_task"]["screwdriver/octagon"]["failure"] == 2


def test_merge_renumbers_and_keeps_provenance_and_uuids(recorded_dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "merged"
    assert cli_main(["dataset", "merge", str(out), str(recorded_dataset), str(recorded_dataset)]) == 0
    merged = Dataset(out)
    assert merged.episode_indices() == list(range(8))
    e = merged[5]
    assert e.meta["provenance"][-1] == {"dataset": str(recorded_dataset), "episode_index": 1}
    assert e.meta["episode_uuid"] == Dataset(recorded_dataset)[1].meta["episode_uuid"]
    np.testing.assert_array_equal(e["tactile_force_n"], Dataset(recorded_dataset)[1]["tactile_force_n"])
    with pytest.raises(DatasetError, match="also an input"):
        ops.merge([out], out)
    assert cli_main(["dataset", "merge", str(out), str(out)]) == 2  # the command line says so and exits 2


def test_filter_keeps_only_matching_episodes(recorded_dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ok"
    assert cli_main(["dataset", "filter", str(recorded_dataset), str(out), "--success", "true"]) == 0
    kept = Dataset(out)
    assert [e["success"] for e in kept.entries()] == [True, True]
    assert {e["task"] for e in kept.entries()} == {"nut"}
    none = tmp_path / "none"
    assert cli_main(["dataset", "filter", str(recorded_dataset), str(none), "--task", "nut", "--success", "no"]) == 0
    assert len(Dataset(none)) == 0


def test_trim_removes_idle_head_and_tail_only(recorded_dataset: Path, tmp_path: Path, capsys) -> None:
    src = Dataset(recorded_dataset)[0]
    start, stop = idle_span(src)
    assert 0 < start <= 5 and 35 <= stop < 40  # 5 idle steps each side in the synthetic episodes
    out = tmp_path / "trimmed"
    assert cli_main(["dataset", "trim", str(recorded_dataset), str(out)]) == 0
    t = Dataset(out)[0]
    assert len(t) == stop - start and t.meta["trim"] == {"head_steps": start, "tail_steps": 40 - stop, "tol": 1e-3}
    np.testing.assert_array_equal(t["action_rad"], src["action_rad"][start:stop])
    assert t.meta["n_steps"] == len(t) and t.meta["duration_s"] == len(t) / 20


def test_an_episode_that_never_moves_keeps_min_keep_steps(tmp_path: Path) -> None:
    still = [replace(s, hand_target_rad=np.zeros(12) + 0.1, arm_target_rad=np.zeros(6)) for s in synthetic_steps(20)]
    still = [replace(s, arm=replace(s.arm, q_rad=np.zeros(6)), hand=replace(s.hand, q_rad=np.zeros(12))) for s in still]
    with Recorder(tmp_path / "ds") as rec:
        ep = rec.begin(synthetic_meta())
        for s in still:
            ep.append(s)
        ep.end(success=None).wait()
    assert idle_span(Dataset(tmp_path / "ds")[0]) == (0, 5)


def test_delete_removes_named_episodes_and_refuses_unknown_ones(recorded_dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    ops.merge([recorded_dataset], copy)
    with pytest.raises(DatasetError, match=r"no episodes \[7\]"):
        ops.delete(copy, [1, 7])
    assert len(Dataset(copy)) == 4  # nothing removed
    assert cli_main(["dataset", "delete", str(copy), "--episodes", "1", "2"]) == 0
    assert Dataset(copy).episode_indices() == [0, 3]
    with Recorder(copy) as rec:  # recording resumes after the highest index
        assert rec.begin(synthetic_meta()).index == 4


def test_view_saves_an_rrd_file(recorded_dataset: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("rerun")
    rrd = tmp_path / "ep0.rrd"
    assert cli_main(["dataset", "view", str(recorded_dataset), "--episode", "0", "--save", str(rrd)]) == 0
    assert rrd.stat().st_size > 10_000


def test_skill_spans_and_tactile_images() -> None:
    from dexscrew_sdk.recording.viewer import skill_spans, tactile_images

    assert skill_spans(np.array([0, 1, 1, 0, 0, 1])) == [(1, 3), (5, 6)]
    f = np.zeros((2, 5, 120, 3), np.float32)
    f[1, 2, 13, 2] = 1.0  # middle finger, taxel row 1 column 1
    img = tactile_images(f)
    assert img.shape == (2, 5, 10, 12) and img[1, 2, 1, 1] == 127 and img.sum() == 127


def test_replay_sends_the_recorded_actions_through_a_real_cell(
    recorded_dataset: Path, reference_node: NodeProcess
) -> None:
    ep = Dataset(recorded_dataset)[0]
    with Cell.connect(reference_node.config, reference_node.overrides) as cell:
        result = replay_episode(cell, ep)
        final_hand = cell.hand.state().q_rad
    assert result.steps == len(ep) and result.rejected_commands == 0
    assert result.max_arm_tracking_error_rad < 0.05
    np.testing.assert_allclose(final_hand, ep["action_rad"][-1, :12], atol=0.05)


def test_replay_refuses_a_cell_at_another_rate(recorded_dataset: Path) -> None:
    class FakeClock:
        period_s = 0.01

    class FakeCell:
        clock = FakeClock()
        devices: dict = {}

    with pytest.raises(DatasetError, match=r"recorded at 20\.0 Hz but the cell runs at 100 Hz"):
        replay_episode(FakeCell(), Dataset(recorded_dataset)[0])


def test_the_replayer_holds_the_last_targets_past_the_end(recorded_dataset: Path) -> None:
    ep = Dataset(recorded_dataset)[1]

    class Recorded:
        def __init__(self) -> None:
            self.sent: list[np.ndarray] = []

        def command(self, q):
            self.sent.append(q)

        servo = command

    class FakeCell:
        hand, arm = Recorded(), Recorded()

    r = EpisodeReplayer(ep)
    for _ in range(len(ep) + 3):
        r.step(FakeCell)
    assert r.done and len(FakeCell.arm.sent) == len(ep) + 3
    np.testing.assert_array_equal(FakeCell.arm.sent[-1], ep["action_rad"][-1, 12:])
