"""Observation/action layout of finger-rotation skills, and the one joint-order map.

The authors' released checkpoints (and method.md) use their own "policy" joint
order; the SDK uses the canonical order of `dexscrew_sdk.joints` (= XHand SDK
order). `POLICY_FROM_SDK` is the single place that maps one to the other.

This module is pure Python + numpy and stays Python 3.8 compatible: the
IsaacGym training backend loads it without importing the rest of the SDK.
"""

from __future__ import annotations

import numpy as np

# policy[i] = sdk[POLICY_FROM_SDK[i]]
POLICY_FROM_SDK: tuple[int, ...] = (3, 4, 5, 6, 7, 10, 11, 8, 9, 0, 1, 2)
SDK_FROM_POLICY: tuple[int, ...] = tuple(POLICY_FROM_SDK.index(i) for i in range(12))
POLICY_JOINT_NAMES: tuple[str, ...] = (
    "index_bend",
    "index_j1",
    "index_j2",
    "mid_j1",
    "mid_j2",
    "pinky_j1",
    "pinky_j2",
    "ring_j1",
    "ring_j2",
    "thumb_bend",
    "thumb_rota1",
    "thumb_rota2",
)

TASKS: tuple[str, ...] = ("nut", "screwdriver")
CONTROL_HZ = 20.0  # the method's control rate: the one place it is written (the core reads it from here)
DOF = 12
FRAME_DIM = 2 * DOF  # one proprioceptive frame: [q (12), target (12)]
OBS_FRAMES = 3  # the policy observation: last 3 frames, oldest first
OBS_DIM = OBS_FRAMES * FRAME_DIM  # 72
HIST_LEN = 30  # the student's proprioceptive history

# Facts of the released checkpoints (external/dexscrew_official/README.md), policy order.
OFFICIAL_FILES: dict[str, str] = {"nut": "nut_bolt.pt", "screwdriver": "screwdriver.pt"}
OFFICIAL_OBS_PAD = 96
OFFICIAL_ACTION_SCALE = 0.04167
OFFICIAL_LOWER_POLICY = (-0.175, 0, 0, 0, 0, 0, 0, 0, 0, 0.6, -1.05, -0.17)  # thumb_bend narrowed to 0.6
OFFICIAL_UPPER_POLICY = (0.175, 1.92, 1.92, 1.92, 1.92, 1.92, 1.92, 1.92, 1.92, 1.73, 1.57, 1.83)
OFFICIAL_INIT_POLICY: dict[str, tuple[float, ...]] = {
    "nut": (-0.17, 1.1, 0.4, 1.1, 0.4, 0, 0, 0, 0, 1.3, 0.6, 0.45),
    "screwdriver": (-0.17, 1.2, 0.4, 1.2, 0.4, 0, 0, 0, 0, 1.15, 0.6, 0.1),
}
OFFICIAL_HIST_FILL_POLICY = (-0.17, 1.3, 0.44, 1.3, 0.44, 0, 0, 0, 0, 1.3, 0.5, 0.45)
OFFICIAL_MASKED_POLICY: dict[str, tuple[int, ...]] = {"nut": (5, 6, 7, 8), "screwdriver": (5, 6)}
# method.md action scales of the training recipe (the released deploy script uses 0.04167 for both)
TRAIN_ACTION_SCALE: dict[str, float] = {"nut": 0.04167, "screwdriver": 0.05}


def to_sdk(x_policy: object) -> np.ndarray:
    """Reorder the last axis from policy order to canonical (SDK) order."""
    return np.asarray(x_policy, dtype=np.float64)[..., list(SDK_FROM_POLICY)]


def to_policy(x_sdk: object) -> np.ndarray:
    """Reorder the last axis from canonical (SDK) order to policy order."""
    return np.asarray(x_sdk, dtype=np.float64)[..., list(POLICY_FROM_SDK)]


def mask_sdk(task: str) -> np.ndarray:
    """Boolean (12,) canonical-order mask of joints whose action is forced to zero."""
    mask = np.zeros(DOF, dtype=bool)
    mask[[POLICY_FROM_SDK[i] for i in OFFICIAL_MASKED_POLICY[check_task(task)]]] = True
    return mask


def init_targets_sdk(task: str) -> np.ndarray:
    return to_sdk(OFFICIAL_INIT_POLICY[check_task(task)])


def limits_sdk(hw_lower: object, hw_upper: object) -> tuple[np.ndarray, np.ndarray]:
    """Deployment limits intersected with a hand's own limits, canonical order."""
    lo = np.maximum(to_sdk(OFFICIAL_LOWER_POLICY), np.asarray(hw_lower, dtype=np.float64))
    hi = np.minimum(to_sdk(OFFICIAL_UPPER_POLICY), np.asarray(hw_upper, dtype=np.float64))
    return lo, np.maximum(hi, lo)


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {list(TASKS)}")
    return task
