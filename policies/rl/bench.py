"""`dexscrew bench rl`: CPU training throughput and skills' turning speed in the simplified world.

Prints (via the CLI) one JSON object: cpu_env_steps_per_s (PyBullet backend,
one worker per core, the task layer included), mean object angular velocity
over 40 s seeded episodes of the shipped skills, of a uniform-random policy
measured in the same run (the baseline), and of the authors' released
checkpoints when their folder is present (a sim-to-sim transfer figure); then
the turns the same skills fasten in the full twin with the arm held still in
15 s (nominal scene and the mean over six randomised seeds).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from dexscrew_sdk.resources import shipped_skills_root

SHIPPED = shipped_skills_root()  # policies.skills, read through importlib.resources


def throughput(steps: int, envs_per_worker: int = 16) -> float:
    from policies.rl.backends import make_backend
    from policies.rl.backends.pybullet import usable_cpus
    from policies.rl.config import TaskConfig
    from policies.rl.task import RevoluteTask

    workers = len(usable_cpus())
    backend = make_backend("pybullet", "nut", envs_per_worker * workers, 0, workers=workers)
    env = RevoluteTask(backend, TaskConfig.for_task("nut"))
    try:
        env.reset()
        gen = torch.Generator().manual_seed(0)
        env.step(torch.zeros(env.n, 12))
        t0 = time.perf_counter()
        for _ in range(steps):
            env.step(torch.rand(env.n, 12, generator=gen) * 2 - 1)
        return steps * env.n / (time.perf_counter() - t0)
    finally:
        env.close()


def official_figures(quick: bool) -> dict[str, Any]:
    """The released checkpoints with their TRAINING settings in the simplified world (policies.rl.official):
    nominal scene unclamped and clamped, then randomised scenes with the rate and the share >= 1 rad/s."""
    from policies.rl.official import run_official

    (n_nom, n_rnd, sec) = (2, 2, 5.0) if quick else (5, 10, 40.0)
    out: dict[str, Any] = {"official_nominal_episodes": n_nom, "official_randomised_episodes": n_rnd}
    out["official_settings"] = "training: obs t-3..t-1, scale 0.04167 nut / 0.05 screwdriver, inclined start"
    for task, key, main_clamped in (("nut", "official_nut_bolt", False), ("screwdriver", "official_screwdriver", True)):
        for clamped in (main_clamped, not main_clamped):
            res = run_official(task, n_nom, sec, seed=0, clamp_torques=clamped).summary()
            name = key if clamped == main_clamped else f"{key}_{'clamped' if clamped else 'unclamped'}"
            out[f"{name}_rad_per_s"] = round(res["rad_per_s"], 3)
        out[f"{key}_torques"] = "clamped" if main_clamped else "unclamped"
        res = run_official(task, n_rnd, sec, seed=100, randomise=True, clamp_torques=main_clamped).summary()
        out[f"{key}_randomised_rad_per_s"] = round(res["rad_per_s"], 3)
        out[f"{key}_randomised_share_at_1"] = f"{res['episodes_at_target']}/{n_rnd}"
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dexscrew_sdk.resources import official_dir
    from dexscrew_sdk.skills import Skill
    from policies.rl.evaluate import evaluate, random_skill, trained_clamped, turns_in_full_twin

    torch.set_num_threads(1)
    quick = bool(getattr(args, "quick", False))
    episodes, seconds = (2, 5.0) if quick else (10, 40.0)
    out: dict[str, Any] = {"episodes": episodes, "episode_s": seconds, "quick": quick}
    out["cpu_env_steps_per_s"] = round(throughput(20 if quick else 300), 1)
    randoms = []
    for task in ("nut", "screwdriver"):
        rnd = evaluate(random_skill(task), task, episodes, seconds).summary()
        randoms.append(rnd["rad_per_s"])
        out[f"random_policy_{task}_rad_per_s"] = round(rnd["rad_per_s"], 3)
        path = SHIPPED / task
        if (path / "skill.pt").is_file():
            trained = trained_clamped(path)  # the headline figure in the torque setting it was trained in
            out[f"skill_{task}_torques"] = "clamped" if trained else "unclamped"
            for clamped in (trained, not trained):
                res = evaluate(lambda p=path: Skill.load(p), task, episodes, seconds, clamp_torques=clamped).summary()
                setting = "" if clamped == trained else ("_clamped" if clamped else "_unclamped")
                name = f"skill_{task}{setting}"
                out[f"{name}_rad_per_s"] = round(res["rad_per_s"], 3)
                out[f"{name}_episodes_meeting_target"] = f"{res['episodes_meeting_target']}/{episodes}"
        else:
            out[f"skill_{task}_rad_per_s"] = None
    out["random_policy_rad_per_s"] = round(sum(randoms) / len(randoms), 3)
    official = official_dir().is_dir()
    if official:
        out.update(official_figures(quick))
        for task, key in (("nut", "official_nut_bolt"), ("screwdriver", "official_screwdriver")):
            # deploy settings (the skill runtime, as on the real hand), method.md termination
            res = evaluate(lambda t=task: Skill.official(t), task, episodes, seconds).summary()
            out[f"{key}_deploy_settings_rad_per_s"] = round(res["rad_per_s"], 3)
            out[f"{key}_deploy_settings_episodes_meeting_target"] = f"{res['episodes_meeting_target']}/{episodes}"
    seeds, twin_s = ((0,), 2.0) if quick else ((0, 1, 2, 3, 4, 5), 15.0)
    for task in ("nut", "screwdriver"):
        makers = {"skill": lambda t=task: Skill.load(SHIPPED / t)} if (SHIPPED / task / "skill.pt").is_file() else {}
        if official:
            makers["official"] = lambda t=task: Skill.official(t)
        for who, make in makers.items():
            turns = turns_in_full_twin(make, task, seeds, twin_s)
            randomised = [v for k, v in turns.items() if k != "nominal"]
            out[f"full_twin_{who}_{task}_turns_nominal"] = round(turns["nominal"], 2)
            out[f"full_twin_{who}_{task}_turns_randomised_mean"] = round(sum(randomised) / len(randomised), 2)
    out["full_twin_s"] = twin_s
    return out
