"""A small recorded dataset for tests of other parts (BC, evaluation, tools) to reuse.

    from tests.recording.fixtures import recorded_dataset  # noqa: F401 (a pytest fixture)

    def test_something(recorded_dataset: Path) -> None:
        ds = Dataset(recorded_dataset)

Four synthetic episodes of 40 steps at 20 Hz with tactile, recorded by the real
Recorder (two nut/square, two screwdriver/octagon; episodes 0 and 2 successful),
written once per test session into a temporary folder. Treat it as read-only:
derive new datasets from it (filter, trim) into your own tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dexscrew_sdk.recording.synthetic import record_synthetic_dataset

FIXTURE_EPISODES = 4
FIXTURE_STEPS = 40
FIXTURE_TASKS = (("nut", "square"), ("screwdriver", "octagon"))


def make_recorded_dataset(root: Path, episodes: int = FIXTURE_EPISODES, steps: int = FIXTURE_STEPS) -> Path:
    record_synthetic_dataset(root, episodes=episodes, steps=steps, tasks=FIXTURE_TASKS)
    return root


@pytest.fixture(scope="session")
def recorded_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_recorded_dataset(tmp_path_factory.mktemp("recorded") / "dataset")
