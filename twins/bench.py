"""`dexscrew bench twin`: full-twin real-time factor, RL-world throughput, bare PyBullet baseline."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pybullet as pb

from twins.bullet import load_hand, official_init_canonical
from twins.cell import TwinCell
from twins.rl_world import RevoluteWorld, RLWorldConfig


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


def rl_world_steps_per_s(num_envs: int, steps: int) -> float:
    """Control steps per second, all environments together, one process."""
    with RevoluteWorld(RLWorldConfig(task="nut", num_envs=num_envs, seed=0)) as world:
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps):
            world.step(world.targets() + rng.normal(0, 0.02, (num_envs, 12)))
            world.hand_q(), world.object_angle()
        return num_envs * steps / (time.perf_counter() - start)


def raw_hand_steps_per_s(steps: int, substeps: int = 10) -> float:
    """Baseline: one bare hand, no object, engine position motors, same 200 Hz / 20 Hz split."""
    client = pb.connect(pb.DIRECT)
    try:
        pb.setPhysicsEngineParameter(fixedTimeStep=0.005, numSolverIterations=8, physicsClientId=client)
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    sim_s, rl_steps, envs = (2.0, 20, 16) if quick else (20.0, 150, 16)
    raw = raw_hand_steps_per_s(200 if quick else 2000)
    rtf = full_twin_rtf(sim_s)
    rl = rl_world_steps_per_s(envs, rl_steps)
    return {
        "full_twin_rtf": round(rtf, 2),
        "rl_world_steps_per_s": round(rl, 1),
        "pybullet_raw_steps_per_s": round(raw, 1),
        "rl_world_vs_raw": round(rl / raw, 3),
        "rl_world_envs": envs,
        "physics_hz": 200,
        "control_hz": 20,
        "quick": quick,
    }
