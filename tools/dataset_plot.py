"""Dataset plots (`dexscrew dataset plot PATH --out DIR`): one episode, or a summary of a whole dataset.

PATH is an episode file (`episode_000003.npz`) or a dataset folder. An episode
gives four PNGs: hand joints (measured, targets dashed) and arm joints over
time with the skill's on-spans shaded, ground-truth progress (twins), and each
fingertip's contact pattern (normal force per taxel over time). A dataset
gives: progress over time per task/shape (every episode thin, the mean thick),
the outcome per shape (mean final progress with its 95 % bootstrap interval,
success rate), and each fingertip's contact pattern over normalised episode
time (the fraction of episodes in contact, per taxel). `--episode N` plots one
episode of a dataset. Figures come from the SDK's plotting module
(dexscrew_sdk.evaluation.plots); episodes are read with the recording package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.recording import Episode, load_episode
from dexscrew_sdk.recording.dataset import Dataset
from tools.progress import progress

TAKES_CONFIG = False
HAND = slice(0, joints.HAND_DOF)  # q_rad / action_rad are [hand 12, arm 6]
ARM = slice(joints.HAND_DOF, joints.HAND_DOF + joints.ARM_DOF)
SUMMARY_BINS = 50  # normalised-time bins of the dataset's contact pattern


def _time_s(ep: Episode) -> np.ndarray:
    t = np.asarray(ep["clock_time_s"], dtype=float)
    if len(t) and np.isfinite(t).all():
        return t - t[0]
    return (np.asarray(ep["stamp_ns"], dtype=np.int64) - int(ep["stamp_ns"][0])) / 1e9


def _label(ep: Episode) -> str:
    m = ep.meta
    success = {True: "success", False: "failure"}.get(m.get("success"), "no outcome")
    return f"episode {ep.index}: {m.get('task', '?')}/{m.get('shape', '?')}, seed {m.get('seed', '?')}, {success}"


def plot_episode(ep: Episode, out: Path) -> dict[str, str]:
    from dexscrew_sdk.evaluation import plots

    t = _time_s(ep)
    if len(t) < 2:
        raise DexscrewError(f"episode {ep.index} has {len(t)} steps: nothing to plot")
    spans = plots.skill_spans(t, np.asarray(ep["skill_on"], dtype=bool))
    q, action = np.asarray(ep["q_rad"], float), np.asarray(ep["action_rad"], float)
    stem = f"episode_{ep.index:06d}"
    files = {
        "hand_joints": plots.joint_trajectories(
            out / f"{stem}_hand_joints.png", t, q[:, HAND], joints.HAND_JOINT_NAMES, spans,
            f"{_label(ep)}: hand joints (dashed: targets)", action[:, HAND],
        ),
        "arm_joints": plots.joint_trajectories(
            out / f"{stem}_arm_joints.png", t, q[:, ARM], joints.ARM_JOINT_NAMES, spans,
            f"{_label(ep)}: arm joints (dashed: targets)", action[:, ARM],
        ),
    }  # fmt: skip
    ratio = np.asarray(ep["progress_ratio"], dtype=float)
    if np.isfinite(ratio).any():  # twins only: real cells record NaN
        files["progress"] = plots.progress_over_time(
            out / f"{stem}_progress.png", {f"{ep.meta.get('task')}/{ep.meta.get('shape')}": [(t, ratio)]}, _label(ep)
        )
    normal = np.asarray(ep["tactile_force_n"], dtype=float)[..., 2]
    files["tactile_contact"] = plots.tactile_heatmap(
        out / f"{stem}_tactile_contact.png",
        t,
        {tip: normal[:, k] for k, tip in enumerate(joints.FINGERTIP_NAMES)},
        spans,
        f"{_label(ep)}: fingertip contact (normal force per taxel)",
    )
    return {k: str(v) for k, v in files.items()}


def plot_summary(dataset: Dataset, out: Path, show_progress: bool = True) -> dict[str, Any]:
    from dexscrew_sdk.evaluation import plots, stats

    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    finals: dict[str, list[float]] = defaultdict(list)
    successes: dict[str, list[bool]] = defaultdict(list)
    contact = np.zeros((len(joints.FINGERTIP_NAMES), SUMMARY_BINS, joints.TACTILE_SHAPE[1]))
    counted = np.zeros(SUMMARY_BINS)
    episodes = 0
    for ep in progress(dataset, "reading episodes", show_progress):
        t = _time_s(ep)
        if len(t) < 2:
            continue
        episodes += 1
        key = f"{ep.meta.get('task')}/{ep.meta.get('shape')}"
        ratio = np.asarray(ep["progress_ratio"], dtype=float)
        if np.isfinite(ratio).any():
            curves[key].append((t, np.nan_to_num(ratio)))
            finals[str(ep.meta.get("shape"))].append(float(np.nanmax(ratio)))
        if ep.meta.get("success") is not None:
            successes[str(ep.meta.get("shape"))].append(bool(ep.meta["success"]))
        touched = np.asarray(ep["tactile_force_n"])[..., 2] > joints.TACTILE_THRESHOLD_N  # (T, 5, 120)
        bins = np.minimum((t / t[-1] * SUMMARY_BINS).astype(int), SUMMARY_BINS - 1)
        for b in range(SUMMARY_BINS):
            rows = touched[bins == b]
            if len(rows):
                contact[:, b] += rows.mean(axis=0)
                counted[b] += 1
    if episodes == 0:
        raise DexscrewError(f"{dataset.root}: no episode with at least two steps")
    files: dict[str, str] = {}
    if curves:
        files["progress"] = str(
            plots.progress_over_time(out / "dataset_progress.png", curves, "progress per task/shape")
        )
    if finals:
        cells = {}
        for shape, values in finals.items():
            low, high = stats.bootstrap_ci(values)
            rate = float(np.mean(successes[shape])) if successes.get(shape) else float("nan")
            cells[shape] = (float(np.mean(values)), low, high, rate)
        files["outcome"] = str(
            plots.outcome_by_shape(out / "dataset_outcome.png", {"episodes": cells}, "outcome by shape")
        )
    fraction = contact / np.maximum(counted, 1)[None, :, None]
    t_norm = (np.arange(SUMMARY_BINS) + 0.5) / SUMMARY_BINS
    files["tactile_contact"] = str(
        plots.tactile_heatmap(
            out / "dataset_tactile_contact.png",
            t_norm,
            {tip: fraction[k] for k, tip in enumerate(joints.FINGERTIP_NAMES)},
            (),
            f"fingertip contact over {episodes} episodes",
            xlabel="normalised episode time (0 = start, 1 = end)",
            colour_label=f"fraction of episodes in contact (> {joints.TACTILE_THRESHOLD_N} N)",
        )
    )
    return {"episodes": episodes, "files": files}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="an episode file (.npz) or a dataset folder")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    p.add_argument("--episode", type=int, help="with a dataset folder: plot this episode instead of the summary")


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        raise DexscrewError(f"{path}: no such episode file or dataset folder")
    if path.is_file():
        result: dict[str, Any] = {"episode": str(path), "files": plot_episode(load_episode(path), args.out)}
    elif args.episode is not None:
        ds = Dataset(path)
        if args.episode not in ds.episode_indices():
            raise DexscrewError(f"{path}: no episode {args.episode}; episodes: {ds.episode_indices()}")
        result = {"episode": args.episode, "files": plot_episode(ds[args.episode], args.out)}
    else:
        result = plot_summary(Dataset(path), args.out)
    print(json.dumps(result))
    return 0


def register_plot(dataset_sub: argparse._SubParsersAction) -> None:
    """`dataset plot`, added to the recording package's `dataset` verb."""
    p = dataset_sub.add_parser(
        "plot", help="PNG plots of one episode or a dataset summary", description=__doc__.split("\n\n")[0]
    )
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("plot", argv)


if __name__ == "__main__":
    sys.exit(main())
