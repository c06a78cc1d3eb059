"""The physics-backend protocol: what the RL task needs from any simulator.

A backend simulates `num_envs` copies of the revolute-joint world (hand fixed
in space, object on a revolute joint) and exposes raw state as torch tensors in
canonical joint order. Observations, rewards and terminations are computed once,
on top of any backend, by `policies.rl.task`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

try:  # Python 3.8 (IsaacGym) has typing.Protocol too; keep the import explicit
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment,misc]


@dataclass
class WorldState:
    q: torch.Tensor  # (N, 12) joint positions, canonical order
    qd: torch.Tensor  # (N, 12)
    torque: torch.Tensor  # (N, 12) applied joint torques
    angle: torch.Tensor  # (N,) object joint angle, positive = fastening
    angvel: torch.Tensor  # (N,)
    obj_pos: torch.Tensor  # (N, 3)
    tips: torch.Tensor  # (N, 5, 3) thumb, index, middle, ring, pinky
    contact: torch.Tensor  # (N, 5) bool
    priv: torch.Tensor  # (N, P) privileged vector of the world


class PhysicsBackend(Protocol):
    num_envs: int
    priv_dim: int
    joint_lower: torch.Tensor  # (12,)
    joint_upper: torch.Tensor  # (12,)
    device: torch.device

    def reset(self, env_ids: torch.Tensor, q_init: torch.Tensor) -> None:
        """Reset the listed environments with the hand at q_init (len(env_ids), 12)."""

    def step(self, targets: torch.Tensor) -> None:
        """Apply (N, 12) position targets for one control period."""

    def state(self) -> WorldState: ...

    def close(self) -> None: ...
