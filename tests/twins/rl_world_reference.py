"""A recorded RL-world trajectory: a fixed action sequence and the states it produced.

Speed work on the RL world must not change its physics. This module replays a fixed sequence of
targets (both tasks, randomised and nominal scenes, a mid-run reset, torque PD and the motor
emulation) and records every state the world exposes. `tests/twins/test_rl_world_reference.py`
compares a fresh replay against the stored file, so a change that claims "same physics" is checked
against the world as it was recorded.

Re-record (only when the physics is changed on purpose, and say so in the commit):

    .venv/bin/python -m tests.twins.rl_world_reference
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pybullet as pb

from twins.rl_world import RevoluteWorld, RLWorldConfig

REFERENCE_FILE = Path(__file__).with_name("data") / "rl_world_reference.npz"
STEPS = 40
RESET_AT_STEP = 20  # environments 0 and 2 are reset here, with their own drawn scenes
CASES: dict[str, dict[str, object]] = {
    "nut_randomised": {"task": "nut", "num_envs": 6, "seed": 3},
    "nut_nominal_unclamped": {"task": "nut", "num_envs": 3, "seed": 4, "randomise": False, "clamp_torques": False},
    "screwdriver_randomised": {"task": "screwdriver", "num_envs": 6, "seed": 5},
    "nut_motor": {"task": "nut", "num_envs": 3, "seed": 6, "actuation": "motor"},
}
FIELDS = ("q", "qd", "torque", "angle", "angvel", "contact", "priv")  # priv holds the object and tip poses


def replay(case: str) -> dict[str, np.ndarray]:
    """Every exposed state after every control step of `case`, stacked over steps."""
    kwargs = CASES[case]
    out: dict[str, list[np.ndarray]] = {f: [] for f in FIELDS}
    with RevoluteWorld(RLWorldConfig(**kwargs)) as world:  # type: ignore[arg-type]
        rng = np.random.default_rng(1000 + int(kwargs["seed"]))  # type: ignore[call-overload]
        for k in range(STEPS):
            if k == RESET_AT_STEP:
                world.reset(np.array([0, 2]))
            world.step(world.targets() + rng.normal(0.0, 0.05, (world.num_envs, 12)))
            for f, v in zip(FIELDS, _states(world), strict=True):
                out[f].append(v)
    return {f: np.stack(v) for f, v in out.items()}


def _states(world: RevoluteWorld) -> tuple[np.ndarray, ...]:
    return (
        world.hand_q(),
        world.hand_qd(),
        world.hand_torque(),
        world.object_angle(),
        world.object_angvel(),
        world.fingertip_contact().astype(float),
        world.privileged(),
    )


def record(path: Path = REFERENCE_FILE) -> None:
    arrays = {f"{case}/{f}": v for case in CASES for f, v in replay(case).items()}
    meta = {"pybullet_api_version": pb.getAPIVersion(), "numpy": np.__version__, "steps": STEPS}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load(path: Path = REFERENCE_FILE) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        return meta, {k: f[k] for k in f.files if k != "meta"}


if __name__ == "__main__":
    record()
    print(f"wrote {REFERENCE_FILE}")
