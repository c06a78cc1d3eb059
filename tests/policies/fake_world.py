"""A tiny synthetic revolute world with the RevoluteWorld API (numpy, no physics engine).

The object turns at a speed set by how far index_j1 is flexed, so a policy can
learn to turn it (flex and hold); fingertips stay near the object; it runs in microseconds.
"""

from __future__ import annotations

import numpy as np

from dexscrew_sdk import joints


class FakeWorld:
    PRIVILEGED_NAMES: tuple[str, ...] = ("angle", "angvel", "friction")

    def __init__(self, cfg) -> None:  # cfg: twins.rl_world.RLWorldConfig-like
        self.cfg = cfg
        self.num_envs = cfg.num_envs
        self.rng = np.random.default_rng(cfg.seed)
        self.joint_lower = joints.XHAND_LOWER_RAD.copy()
        self.joint_upper = joints.XHAND_UPPER_RAD.copy()
        n = self.num_envs
        self.q, self.qd, self.t = np.full((n, 12), 0.5), np.zeros((n, 12)), np.full((n, 12), 0.5)
        self.angle, self.vel = np.zeros(n), np.zeros(n)
        self.friction = self.rng.uniform(0.5, 1.5, n)
        self.closed = False

    def reset(self, env_ids=None, q_init=None) -> None:
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=int)
        q0 = np.full((len(ids), 12), 0.5) if q_init is None else np.asarray(q_init, dtype=float)
        self.q[ids], self.t[ids], self.qd[ids] = q0, q0, 0.0
        self.angle[ids], self.vel[ids] = 0.0, 0.0

    def step(self, targets) -> None:
        t = np.clip(np.asarray(targets, dtype=float), self.joint_lower, self.joint_upper)
        assert np.isfinite(t).all(), "NaN target reached the world"
        prev = self.q.copy()
        self.q = self.q + 0.5 * (t - self.q)
        self.qd = (self.q - prev) * 20.0
        self.t = t
        self.vel = 3.0 * (self.q[:, 4] - 0.9) / self.friction
        self.angle = self.angle + self.vel / 20.0

    def hand_q(self):
        return self.q.copy()

    def hand_qd(self):
        return self.qd.copy()

    def hand_torque(self):
        return np.clip(3.0 * (self.t - self.q), -1.1, 1.1)

    def object_angle(self):
        return self.angle.copy()

    def object_angvel(self):
        return self.vel.copy()

    def object_pos(self):
        return np.zeros((self.num_envs, 3))

    def fingertip_pos(self):
        return np.full((self.num_envs, 5, 3), 0.02) + 0.001 * self.q[:, :5, None]

    def fingertip_contact(self):
        return np.ones((self.num_envs, 5), dtype=bool)

    def privileged(self):
        return np.stack([self.angle, self.vel, self.friction], -1)

    def close(self) -> None:
        self.closed = True
