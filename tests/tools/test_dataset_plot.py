"""`dataset plot` on a recorded dataset: one episode's figures and a dataset summary, as PNG files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.synthetic import record_synthetic_dataset
from tests.conftest import REPO
from tools import dataset_plot


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    record_synthetic_dataset(root, episodes=4, steps=60, tasks=(("nut", "square"), ("nut", "hexagonal")))
    return root


def _is_png(path: str) -> bool:
    return matplotlib.image.imread(path).ndim == 3


def test_one_episode_gives_joints_progress_and_contact(dataset: Path, tmp_path: Path) -> None:
    ds = Dataset(dataset)
    files = dataset_plot.plot_episode(ds[ds.episode_indices()[1]], tmp_path)
    assert set(files) == {"hand_joints", "arm_joints", "progress", "tactile_contact"}
    assert all(_is_png(f) for f in files.values())


def test_a_dataset_summary(dataset: Path, tmp_path: Path) -> None:
    result = dataset_plot.plot_summary(Dataset(dataset), tmp_path, show_progress=False)
    assert result["episodes"] == 4
    assert set(result["files"]) == {"progress", "outcome", "tactile_contact"}
    assert all(_is_png(f) for f in result["files"].values())


def test_the_dataset_verb_plots_and_refuses_what_is_not_there(dataset: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "dataset", "plot", str(dataset), "--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["episodes"] == 4
    episode = next(dataset.glob("**/episode_*.npz"))
    done = subprocess.run([sys.executable, "-m", "tools.dataset_plot", str(episode), "--out", str(tmp_path / "one")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "one").glob("*.png"))) == 4
    missing = subprocess.run([*cmd, "--episode", "99"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no episode 99" in missing.stderr


def test_an_empty_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DexscrewError):
        dataset_plot.plot_summary(Dataset(tmp_path / "empty"), tmp_path, show_progress=False)
