"""Physics backends behind one protocol; each is imported only when chosen."""

from __future__ import annotations

from typing import Any

from policies.rl.backends.base import PhysicsBackend, WorldState

BACKENDS = ("pybullet", "isaacgym")


def make_backend(name: str, task: str, num_envs: int, seed: int, **kwargs: Any) -> PhysicsBackend:
    """The named backend; a missing engine raises ImportError saying how to install it."""
    if name == "pybullet":
        from policies.rl.backends.pybullet import PyBulletBackend

        return PyBulletBackend(task, num_envs, seed, **kwargs)
    if name == "isaacgym":
        from policies.rl.backends.isaacgym import IsaacGymBackend

        return IsaacGymBackend(task, num_envs, seed, **kwargs)
    raise ValueError(f"unknown backend {name!r}; choose from {list(BACKENDS)}")


__all__ = ["BACKENDS", "PhysicsBackend", "WorldState", "make_backend"]
