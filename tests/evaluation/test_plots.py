"""The plotting module writes real PNGs from evaluation and dataset data, and refuses bad shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk.evaluation import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 2000


def test_skill_spans_are_the_runs_of_the_flag() -> None:
    t = np.arange(8) * 0.5
    assert plots.skill_spans(t, [0, 1, 1, 0, 0, 1, 1, 1]) == [(0.5, 1.5), (2.5, 3.5)]
    assert plots.skill_spans(t, [0] * 8) == []
    with pytest.raises(ValueError, match="differ in length"):
        plots.skill_spans(t, [1, 0])


def test_every_figure_is_a_png(tmp_path: Path) -> None:
    t = np.arange(100) * 0.05
    rng = np.random.default_rng(0)
    touch = {"thumb": rng.uniform(0, 2, (100, 120)), "index": rng.uniform(0, 1, (100, 120))}
    spans = [(1.0, 3.0)]
    out = [
        plots.tactile_heatmap(tmp_path / "touch.png", t, touch, spans, "square"),
        plots.joint_trajectories(
            tmp_path / "q.png", t, rng.normal(size=(100, 12)), [f"j{i}" for i in range(12)], spans
        ),
        plots.progress_over_time(tmp_path / "p.png", {"bc": [(t, np.linspace(0, 1, 100)), (t[:50], t[:50] / 5)]}),
        plots.outcome_by_shape(tmp_path / "o.png", {"bc": {"square": (0.5, 0.4, 0.6, 0.3), "cross": (0.9, 0.8, 1, 1)}}),
    ]
    assert all(is_png(p) for p in out)


def test_shape_mismatches_are_named(tmp_path: Path) -> None:
    t = np.arange(10) * 0.05
    with pytest.raises(ValueError, match=r"thumb: normal force must be \(len\(t_s\), taxels\)"):
        plots.tactile_heatmap(tmp_path / "x.png", t, {"thumb": np.zeros((9, 120))})
    with pytest.raises(ValueError, match="q_rad must be"):
        plots.joint_trajectories(tmp_path / "x.png", t, np.zeros((10, 3)), ["a", "b"])
