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
from policies.bc.normalise import Normaliser, relative_chunk_actions
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
    ds = WindowDataset([ep], history=3, horizon=4, relative=False)
    first, last = ds[np.array([0])], ds[np.array([9])]
    np.testing.assert_array_equal(first["q"][0].numpy(), ep.q[[0, 0, 0]])
    np.testing.assert_array_equal(first["action"][0].numpy(), ep.action[[0, 1, 2, 3]])
    np.testing.assert_array_equal(last["q"][0].numpy(), ep.q[[7, 8, 9]])
    np.testing.assert_array_equal(last["action"][0].numpy(), ep.action[[9, 9, 9, 9]])
    np.testing.assert_array_equal(last["tactile"][0].numpy(), ep.tactile[[7, 8, 9]])


def test_relative_windows_are_the_targets_minus_the_newest_joints_and_fit_the_normalisers_range() -> None:
    ep = synthetic_episodes(1, 10)[0]
    ds = WindowDataset([ep], history=3, horizon=4)  # relative: the default
    for t, rows in ((0, [0, 1, 2, 3]), (8, [8, 9, 9, 9])):
        got = ds[np.array([t])]["action"][0].numpy()
        np.testing.assert_allclose(got, ep.action[rows] - ep.q[t], rtol=0, atol=1e-6)
    every = relative_chunk_actions(ep.q, ep.action, 4)
    assert every.shape == (40, ep.action.shape[1])
    chunks = np.concatenate([ds[np.array([t])]["action"][0].numpy() for t in range(10)])
    np.testing.assert_allclose(np.sort(chunks, axis=0), np.sort(every, axis=0), rtol=0, atol=1e-6)
    norm = Normaliser.fit([(ep.q, None, ep.action)], 10, relative_horizon=4)
    np.testing.assert_allclose(norm.action.lo, every.min(axis=0), atol=1e-6)  # scaling: the offsets' range
    np.testing.assert_allclose(norm.action_min_rad, ep.action.min(axis=0))  # recorded: the targets' own


def test_ranks_get_disjoint_equal_batches_and_resume_skips_done_ones() -> None:
    a, b = EpochBatches(103, 10, seed=3, rank=0, world=2), EpochBatches(103, 10, seed=3, rank=1, world=2)
    a.set_epoch(4)
    b.set_epoch(4)
    ba, bb = list(a), list(b)
    assert len(ba) == len(bb) == 5
    assert not set(np.concatenate(ba)) & set(np.concatenate(bb))
    a.set_epoch(4, skip=2)
    assert [x.tolist() for x in a] == [x.tolist() for x in ba[2:]]
