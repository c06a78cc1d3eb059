"""`dexscrew bench twin`: full-twin real-time factor, RL-world throughput, bare PyBullet baseline, and
what the shipped skills do in the full twin with the arm follower (and with a static arm)."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pybullet as pb

from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld
from twins import objects, rl_recipe
from twins.bullet import load_hand, official_init_canonical
from twins.cell import TwinCell
from twins.rl_world import RevoluteWorld, RLWorldConfig

FOLLOW_SIM_S = 120.0
ALL_OBJECTS = [("nut", s) for s in objects.NUT_SHAPES] + [("screwdriver", s) for s in objects.HANDLE_SHAPES]


def full_twin_rtf(sim_s: float) -> float:
    """Simulated seconds per wall second: lockstep, 200 Hz physics, 20 Hz control, arm + hand + nut + touch."""
    cell = TwinCell()
    try:
        cell.world.reset("nut", "triangular", 0)
        q_hand, q_arm = cell.hand.q.copy(), cell.arm.q.copy()
        rng = np.random.default_rng(0)
        steps = int(sim_s / cell.control_period_s)
        start = time.perf_counter()
        for _ in range(steps):
            cell.hand.command(
                np.clip(q_hand + rng.normal(0, 0.02, 12), cell.hand.limits.lower_rad, cell.hand.limits.upper_rad)
            )
            cell.arm.servo(q_arm)
            cell.advance(cell.control_period_s)
            cell.tactile.frame()
        return steps * cell.control_period_s / (time.perf_counter() - start)
    finally:
        cell.close()


def rl_world_steps_per_s(num_envs: int, steps: int) -> tuple[float, float]:
    """(control steps per second, all environments together, one process; the share of that time spent
    inside the engine's physics steps: the rest is the Python side, per-step torque PD and state reads)."""
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=num_envs, seed=0)) as world:
        rng = np.random.default_rng(0)
        world.physics_s = 0.0
        start = time.perf_counter()
        for _ in range(steps):
            world.step(world.targets() + rng.normal(0, 0.02, (num_envs, 12)))
            world.hand_q(), world.object_angle()
        wall_s = time.perf_counter() - start
        return num_envs * steps / wall_s, world.physics_s / wall_s


def raw_hand_steps_per_s(steps: int, substeps: int = 10) -> float:
    """Baseline: one bare hand, no object, engine position motors, same 200 Hz / 20 Hz split."""
    client = pb.connect(pb.DIRECT)
    try:
        pb.setPhysicsEngineParameter(
            fixedTimeStep=0.005, numSolverIterations=rl_recipe.BULLET_SOLVER_ITERATIONS, physicsClientId=client
        )
        hand = load_hand(client, np.array([0.0, 0.0, 0.21]))
        q = official_init_canonical("nut")
        start = time.perf_counter()
        for _ in range(steps):
            hand.position_motors(q, 0.075, 0.05, np.full(12, 1.0))
            for _ in range(substeps):
                pb.stepSimulation(physicsClientId=client)
            hand.joint_states()
        return steps / (time.perf_counter() - start)
    finally:
        pb.disconnect(client)


def skill_session(cell: TwinCell, task: str, shape: str, seconds: float, follow: bool) -> dict[str, Any]:
    """The shipped skill on the nominal scene for `seconds` of simulated time, one step per 50 ms; the
    arm follower lowers the wrist by pitch x turns (follow) or the arm holds its start pose."""
    from dexscrew_sdk.resources import shipped_skill
    from dexscrew_sdk.skills.skill import Skill

    cell.world.reset(task, shape, seed=0)
    follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), cell.params.pitch_m)
    follower.start()
    q_arm = cell.arm.q.copy()
    skill = Skill.load(shipped_skill(task))
    skill.start(cell.hand)
    fastened_s = None
    for _ in range(round(seconds / cell.control_period_s)):
        skill.step()
        if follow:
            follower.step()
        else:
            cell.arm.servo(q_arm)
        cell.advance(cell.control_period_s)
        if fastened_s is None and cell.world.progress().fastened:
            fastened_s = cell.time_s
    skill.stop()
    p, r = cell.world.progress(), cell.scene.readout
    return {"turns": p.turns_done, "fastened_s": fastened_s, "stalled": r.stalled, "unseated": r.unseated}


def _progress(items: list[Any], what: str) -> Iterable[Any]:
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the evaluation extra; the bench runs without it
        return items
    return tqdm(items, desc=what, unit="object")


def follow_figures(seconds: float) -> dict[str, Any]:
    """full_twin_follow_turns_<task>_<shape> for every object, and the static-arm nut figures."""
    out: dict[str, Any] = {}
    cell = TwinCell()
    try:
        for task, shape in _progress(ALL_OBJECTS, "skill + arm follower"):
            res = skill_session(cell, task, shape, seconds, follow=True)
            out[f"full_twin_follow_turns_{task}_{shape}"] = round(res["turns"], 3)
            out[f"full_twin_follow_fastened_s_{task}_{shape}"] = res["fastened_s"] and round(res["fastened_s"], 2)
            out[f"full_twin_follow_stalled_{task}_{shape}"] = res["stalled"]
        res = skill_session(cell, "nut", "triangular", seconds, follow=False)
        out["full_twin_static_arm_turns_nut_triangular"] = round(res["turns"], 3)
        out["full_twin_static_arm_stalled_nut_triangular"] = res["stalled"]
    finally:
        cell.close()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    sim_s, rl_steps, envs = (2.0, 20, 16) if quick else (20.0, 150, 16)
    raw = raw_hand_steps_per_s(200 if quick else 2000)
    rtf = full_twin_rtf(sim_s)
    rl, rl_physics_share = rl_world_steps_per_s(envs, rl_steps)
    follow = follow_figures(5.0 if quick else FOLLOW_SIM_S)
    return {
        **follow,
        "follow_sim_s": 5.0 if quick else FOLLOW_SIM_S,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "full_twin_rtf": round(rtf, 2),
        "rl_world_steps_per_s": round(rl, 1),
        "pybullet_raw_steps_per_s": round(raw, 1),
        "rl_world_vs_raw": round(rl / raw, 3),
        "rl_world_physics_share": round(rl_physics_share, 3),
        "rl_world_envs": envs,
        "physics_hz": 200,
        "control_hz": 20,
        "quick": quick,
    }
