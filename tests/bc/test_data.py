"""Opening recorded datasets for BC: filter, layout and finiteness checks, memory maps, windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.recording import Recorder, load_episode
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps
from policies.bc.data import EpisodeFilter, from_arrays, open_dataset, synthetic_episodes
from policies.bc.layout import BCError
from policies.bc.windows import EpochBatches, WindowDataset


def test_filtered_bc_keeps_successful_episodes_and_records_identity(recorded: Path) -> None:
    data = open_dataset(recorded)
    entries = Dataset(recorded).entries()
    assert [e.index for e in data.episodes] == [e["episode_index"] for e in entries if e["success"]]
    assert data.identity["filter"]["success_only"] is True
    assert data.identity["dataset_uuid"] and len(data.identity["index_sha256"]) == 64
    assert len(open_dataset(recorded, EpisodeFilter(success_only=False)).episodes) == 4


def test_memory_mapped_arrays_equal_the_episode_files(recorded: Path) -> None:
    ep = open_dataset(recorded).episodes[0]
    ref = load_episode(Dataset(recorded).dir.episode_path(ep.index))
    assert isinstance(ep.q, np.memmap)
    np.testing.assert_array_equal(ep.q, ref["q_rad"])
    np.testing.assert_array_equal(ep.action, ref["action_rad"])
    np.testing.assert_array_equal(ep.tactile, ref["tactile_force_n"].reshape(len(ref), -1))


def test_a_dataset_filtered_to_empty_names_the_filter(recorded: Path) -> None:
    with pytest.raises(BCError, match=r"no episode passes the filter \(success == true and task in \['screwdriver'\]"):
        open_dataset(recorded, EpisodeFilter(tasks=("screwdriver",)))


def test_an_empty_dataset_is_refused(tmp_path: Path) -> None:
    Recorder(tmp_path / "empty").close()
    with pytest.raises(BCError, match="no finished episodes"):
        open_dataset(tmp_path / "empty")


def _record(root: Path, episodes: list[tuple[float, int | None]]) -> None:
    """Episodes at the given rate; a step index whose tactile sample is missing (NaN)."""
    with Recorder(root) as rec:
        for i, (hz, missing_step) in enumerate(episodes):
            ep = rec.begin(synthetic_meta(seed=i, control_hz=hz))
            for s in synthetic_steps(20, seed=i, control_hz=hz):
                if s.step_index == missing_step:
                    s.tactile = None
                ep.append(s)
            ep.end(success=True).wait()


def test_non_finite_values_are_refused_naming_episode_and_step(tmp_path: Path) -> None:
    _record(tmp_path / "d", [(20.0, None), (20.0, 7)])
    with pytest.raises(BCError, match=r"episode_000001: tactile_force_n is not finite at step 7"):
        open_dataset(tmp_path / "d")


def test_episodes_disagreeing_in_layout_are_refused_naming_the_episode(tmp_path: Path) -> None:
    _record(tmp_path / "d", [(20.0, None), (10.0, None)])
    with pytest.raises(BCError, match=r"episode_000001: recorded at 10.0 Hz, but episode_000000 at 20.0 Hz"):
        open_dataset(tmp_path / "d")
    eps = synthetic_episodes(2, 10)
    eps[1].q = eps[1].q[:, :12]
    with pytest.raises(BCError, match=r"synthetic_001: q_rad has per-step shape \(12,\), expected \(18,\)"):
        from_arrays(eps)


def test_windows_repeat_the_first_observation_and_hold_the_last_action() -> None:
    ep = synthetic_episodes(1, 10)[0]
    ds = WindowDataset([ep], history=3, horizon=4)
    first, last = ds[np.array([0])], ds[np.array([9])]
    np.testing.assert_array_equal(first["q"][0].numpy(), ep.q[[0, 0, 0]])
    np.testing.assert_array_equal(first["action"][0].numpy(), ep.action[[0, 1, 2, 3]])
    np.testing.assert_array_equal(last["q"][0].numpy(), ep.q[[7, 8, 9]])
    np.testing.assert_array_equal(last["action"][0].numpy(), ep.action[[9, 9, 9, 9]])
    np.testing.assert_array_equal(last["tactile"][0].numpy(), ep.tactile[[7, 8, 9]])


def test_ranks_get_disjoint_equal_batches_and_resume_skips_done_ones() -> None:
    a, b = EpochBatches(103, 10, seed=3, rank=0, world=2), EpochBatches(103, 10, seed=3, rank=1, world=2)
    a.set_epoch(4)
    b.set_epoch(4)
    ba, bb = list(a), list(b)
    assert len(ba) == len(bb) == 5
    assert not set(np.concatenate(ba)) & set(np.concatenate(bb))
    a.set_epoch(4, skip=2)
    assert [x.tolist() for x in a] == [x.tolist() for x in ba[2:]]
