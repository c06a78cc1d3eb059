"""The authors' released checkpoints in the simplified world, with their TRAINING settings.

The skill runtime (dexscrew_sdk.skills) runs a checkpoint as it is deployed on
the real hand (observation frames t-2..t, action scale 0.04167, deploy initial
pose and limits). To measure how the released skills fare in the world they were
trained in, this runner uses the training settings instead (shared reference
xhand_left.md, items 8-9): observation frames t-3..t-1 (one frame behind the
30-frame history), the history filled with the initial [q0, q0], the training
action scale (0.05 for the screwdriver), the training start ("screwdriver_inclined"
for the screwdriver) with +-10 % initial joint noise, the authors' simulation
limits and no early termination. The policy adaptor and its normalisation are
the skill runtime's own (dexscrew_sdk.skills.policy.OfficialPolicy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dexscrew_sdk import resources
from dexscrew_sdk.skills import layout
from dexscrew_sdk.skills.policy import load_policy
from twins import rl_recipe as recipe
from twins.rl_world import RevoluteWorld, RLWorldConfig


@dataclass(frozen=True)
class TrainingSettings:
    obs_lag_frames: int = 1  # 1: frames t-3..t-1 (training); 0: t-2..t (deployment)
    action_scale: float | None = None  # None: the task's training scale
    init_noise_frac: float = recipe.RANDOMISATION.init_joint_frac


@dataclass
class OfficialRun:
    rad_per_s: list[float]  # per episode, positive = fastening
    settings: dict

    def summary(self, target_rad_s: float = 1.0) -> dict[str, float]:
        r = np.array(self.rad_per_s)
        return {"rad_per_s": float(r.mean()), "episodes_at_target": int((r >= target_rad_s).sum()), "episodes": len(r)}


def run_official(
    task: str,
    episodes: int = 5,
    seconds: float = 40.0,
    seed: int = 0,
    randomise: bool = False,
    clamp_torques: bool = True,
    settings: TrainingSettings = TrainingSettings(),
    folder: Path | None = None,
    progress: bool = False,
) -> OfficialRun:
    """`episodes` parallel episodes of the released `task` checkpoint; nominal scene unless `randomise`."""
    path = resources.official_dir(folder) / layout.OFFICIAL_FILES[layout.check_task(task)]
    policy, meta = load_policy(path)
    scale = settings.action_scale if settings.action_scale is not None else recipe.TRAIN_ACTION_SCALE[task]
    cfg = RLWorldConfig(task=task, num_envs=episodes, seed=seed, randomise=randomise, clamp_torques=clamp_torques)
    world = RevoluteWorld(cfg)
    try:
        lo, hi = world.joint_lower, world.joint_upper
        rng = np.random.default_rng(seed)
        half = 0.5 * (hi - lo)
        noise = rng.uniform(-1.0, 1.0, (episodes, 12)) * settings.init_noise_frac * half
        q0 = np.clip(np.array(recipe.TRAIN_INIT_RAD[task]) + noise, lo, hi)
        world.reset(q_init=q0)
        targets = q0.copy()
        hist = np.repeat(np.concatenate([q0, q0], 1)[:, None], layout.HIST_LEN, 1)  # (N, 30, 24)
        start = world.object_angle()
        lag = settings.obs_lag_frames
        steps = round(seconds * layout.CONTROL_HZ)
        for _ in tqdm(range(steps), desc=f"official {task}", disable=not progress, leave=False):
            for e in range(episodes):
                frames = hist[e, len(hist[e]) - layout.OBS_FRAMES - lag : len(hist[e]) - lag]
                action = np.where(meta.mask, 0.0, policy(frames, hist[e]))
                targets[e] = np.clip(targets[e] + scale * action, lo, hi)
            world.step(targets)
            frame = np.concatenate([world.hand_q(), targets], 1)
            hist = np.concatenate([hist[:, 1:], frame[:, None]], 1)
        rate = ((world.object_angle() - start) / seconds).tolist()
    finally:
        world.close()
    used = {
        "task": task,
        "episodes": episodes,
        "episode_s": seconds,
        "seed": seed,
        "scene": "randomised" if randomise else "nominal",
        "torques": "clamped" if clamp_torques else "unclamped",
        "obs_frames": "t-3..t-1" if lag == 1 else f"lag {lag}",
        "action_scale": scale,
        "early_termination": False,
    }
    return OfficialRun(rate, used)
