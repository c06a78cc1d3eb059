"""Show an episode in rerun (the `[viewer]` extra: rerun-sdk): joint trajectories, skill spans,
tactile pads as images, progress; optionally saved as an .rrd file to open later (`rerun file.rrd`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.recording.episode import Episode
from dexscrew_sdk.recording.errors import DatasetError
from dexscrew_sdk.recording.schema import ACTION_NAMES


def _rr() -> Any:
    try:
        import rerun
    except ModuleNotFoundError:
        raise DatasetError("the viewer needs rerun-sdk: pip install 'dexscrew-sdk[viewer]'") from None
    return rerun


def skill_spans(skill_on: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) step ranges where the skill was on."""
    on = np.concatenate([[0], np.asarray(skill_on, dtype=np.int8), [0]])
    edges = np.flatnonzero(np.diff(on))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def tactile_images(force_n: np.ndarray, full_scale_n: float = 2.0) -> np.ndarray:
    """(T, 5, 120, 3) forces -> (T, 5, 10, 12) uint8 images of the normal force per pad."""
    normal = np.nan_to_num(np.asarray(force_n)[..., 2], nan=0.0).reshape(len(force_n), 5, *joints.TAXEL_GRID)
    return (np.clip(normal / full_scale_n, 0.0, 1.0) * 255).astype(np.uint8)


def view_episode(ep: Episode, save_path: Path | None = None, spawn: bool = False) -> Path | None:
    """Log the episode to rerun: into `save_path` (.rrd) and/or a spawned viewer."""
    rr = _rr()
    if save_path is None and not spawn:
        raise DatasetError("view: pass --save FILE.rrd, --spawn, or both")
    rr.init(f"dexscrew_episode_{ep.index}", spawn=spawn)
    if save_path is not None:
        save_path.parent.mkdir(parents=True, exist_ok=True)
        rr.save(save_path)
    n = len(ep)
    t_s = (ep["stamp_ns"] - ep["stamp_ns"][0]) / 1e9 if n else np.zeros(0)
    times = [rr.TimeColumn("time", duration=t_s), rr.TimeColumn("step", sequence=ep["step_index"])]
    for k, name in enumerate(ACTION_NAMES):
        group, joint = name.split(".")
        rr.send_columns(f"q_rad/{group}/{joint}", indexes=times, columns=rr.Scalars.columns(scalars=ep["q_rad"][:, k]))
        rr.send_columns(
            f"action_rad/{group}/{joint}", indexes=times, columns=rr.Scalars.columns(scalars=ep["action_rad"][:, k])
        )
    rr.send_columns("skill_on", indexes=times, columns=rr.Scalars.columns(scalars=ep["skill_on"].astype(float)))
    rr.send_columns("progress_ratio", indexes=times, columns=rr.Scalars.columns(scalars=ep["progress_ratio"]))
    for a, b in skill_spans(ep["skill_on"]):
        rr.set_time("time", duration=float(t_s[a]))
        rr.log("events", rr.TextLog(f"skill on for steps {a}..{b - 1} ({(b - a) / ep.meta['control_hz']:.2f} s)"))
    images = tactile_images(ep["tactile_force_n"])
    for i in range(n):
        rr.set_time("time", duration=float(t_s[i]))
        rr.set_time("step", sequence=int(ep["step_index"][i]))
        for f, tip in enumerate(joints.FINGERTIP_NAMES):
            rr.log(f"tactile/{tip}", rr.Image(images[i, f]))
    m = ep.meta
    rr.log(
        "episode",
        rr.TextDocument(
            f"task {m['task']} / {m['shape']}, cell {m['cell']}, seed {m.get('seed')}, success {m.get('success')}, "
            f"{n} steps, end: {m.get('end_reason')}"
        ),
        static=True,
    )
    rr.disconnect()  # flushes the .rrd file
    return save_path
