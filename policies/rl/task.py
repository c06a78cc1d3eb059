"""The finger-rotation task on top of any physics backend: actions, observations, rewards, terminations.

Everything here is batched torch on the backend's device, so the same code
serves 32 PyBullet environments on a laptop and thousands in IsaacGym.
Joint order is canonical (SDK) throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from policies.rl.backends.base import PhysicsBackend, WorldState
from policies.rl.config import TaskConfig, TerminationConfig
from policies.rl.sdk import layout


@dataclass
class Observations:
    obs: torch.Tensor  # (N, 72): last 3 frames of [q (noisy), target], oldest first
    priv: torch.Tensor  # (N, P) teacher-only inputs
    hist: torch.Tensor  # (N, 30, 24) student history, oldest first


def priv_dim(backend: PhysicsBackend) -> int:
    return backend.priv_dim + 1 + 15 + 5


class Termination:
    """method.md: thumb or index tip too far from the object, or no progress / no contact for a window."""

    def __init__(self, cfg: TerminationConfig, n: int, device: torch.device) -> None:
        self.cfg = cfg
        self.window_steps = round(cfg.stagnation_s * layout.CONTROL_HZ)
        self.ref_angle = torch.zeros(n, device=device)
        self.since_progress = torch.zeros(n, dtype=torch.long, device=device)
        self.since_contact = torch.zeros(n, dtype=torch.long, device=device)
        self.causes = {}  # type: Dict[str, torch.Tensor]

    def reset(self, ids: torch.Tensor, angle: torch.Tensor) -> None:
        self.ref_angle[ids] = angle[ids]
        self.since_progress[ids] = 0
        self.since_contact[ids] = 0

    def update(self, s: WorldState) -> torch.Tensor:
        t = self.cfg
        far = (torch.linalg.norm(s.tips[:, :2] - s.obj_pos.unsqueeze(1), dim=-1) > t.tip_distance_m).any(-1)
        progressed = (s.angle - self.ref_angle) >= t.progress_rad
        self.ref_angle = torch.where(progressed, s.angle, self.ref_angle)
        zero = torch.zeros_like(self.since_progress)
        self.since_progress = torch.where(progressed, zero, self.since_progress + 1)
        self.since_contact = torch.where(s.contact.any(-1), zero, self.since_contact + 1)
        # which rule fired, per environment: training logs report the share of each (the mean length of the
        # episodes that ended is censored early in a run: only early terminations can have ended yet)
        self.causes = {
            "tip_far": far,
            "no_progress": self.since_progress > self.window_steps,
            "no_contact": self.since_contact > self.window_steps,
            "non_finite": ~torch.isfinite(s.q).all(-1),
        }
        return torch.stack(list(self.causes.values())).any(0)


class RevoluteTask:
    """Vectorised environment: step(actions in [-1, 1]^12) -> observations, reward, done, info."""

    def __init__(self, backend: PhysicsBackend, cfg: TaskConfig, seed: int = 0) -> None:
        self.backend, self.cfg = backend, cfg
        self.n, dev = backend.num_envs, backend.device
        self.device = dev
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(seed)
        lo, hi = layout.limits_sdk(backend.joint_lower.cpu().numpy(), backend.joint_upper.cpu().numpy())
        self.lower = torch.as_tensor(lo, dtype=torch.float32, device=dev)
        self.upper = torch.as_tensor(hi, dtype=torch.float32, device=dev)
        init = cfg.init_targets_rad if cfg.init_targets_rad is not None else layout.init_targets_sdk(cfg.task)
        self.init_targets = torch.as_tensor(init, dtype=torch.float32, device=dev)
        self.init_targets = torch.max(torch.min(self.init_targets, self.upper), self.lower)
        self.mask = torch.as_tensor(layout.mask_sdk(cfg.task), device=dev)
        self.action_scale = layout.TRAIN_ACTION_SCALE[cfg.task]
        self.pose_weight = torch.ones(layout.DOF, device=dev)
        self.pose_weight[:3] = 0.0  # thumb masked in the pose penalty (method.md)
        self.obs_dim, self.act_dim, self.priv_dim = layout.OBS_DIM, layout.DOF, priv_dim(backend)
        self.hist_len, self.frame_dim = layout.HIST_LEN, layout.FRAME_DIM
        z = torch.zeros
        self.targets = self.init_targets.repeat(self.n, 1)
        self.hist = z(self.n, self.hist_len, self.frame_dim, device=dev)
        self.obs_bias = z(self.n, layout.DOF, device=dev)
        self.act_bias = z(self.n, layout.DOF, device=dev)
        self.steps = z(self.n, dtype=torch.long, device=dev)
        self.watch = Termination(cfg.termination, self.n, dev)
        self.start_angle = z(self.n, device=dev)
        self.ep_return = z(self.n, device=dev)

    # ----------------------------------------------------------------- helpers
    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, device=self.device)

    def _frame(self, s: WorldState, ids: torch.Tensor) -> torch.Tensor:
        noise = self.cfg.noise.obs_step_rad * self._randn(len(ids), layout.DOF)
        return torch.cat([s.q[ids] + self.obs_bias[ids] + noise, self.targets[ids]], -1)

    def _reset_ids(self, ids: torch.Tensor) -> None:
        if len(ids) == 0:
            return
        k, nz = len(ids), self.cfg.noise
        half = 0.5 * (self.upper - self.lower)
        u = torch.rand(k, layout.DOF, generator=self.gen, device=self.device) * 2 - 1
        q0 = torch.max(torch.min(self.init_targets + nz.init_joint_frac * half * u, self.upper), self.lower)
        self.backend.reset(ids, q0)
        self.targets[ids] = q0
        self.obs_bias[ids] = nz.obs_episode_rad * self._randn(k, layout.DOF)
        self.act_bias[ids] = nz.action_episode * self._randn(k, layout.DOF)
        self.steps[ids] = 0
        self.ep_return[ids] = 0.0

    def _after_reset(self, s: WorldState, ids: torch.Tensor) -> None:
        self.watch.reset(ids, s.angle)
        self.start_angle[ids] = s.angle[ids]
        self.hist[ids] = self._frame(s, ids).unsqueeze(1).expand(-1, self.hist_len, -1)

    def _observe(self, s: WorldState) -> Observations:
        rel = (s.tips - s.obj_pos.unsqueeze(1)).reshape(self.n, 15)
        priv = torch.cat([s.priv, s.angvel.unsqueeze(-1), rel, s.contact.float()], -1)
        obs = self.hist[:, -layout.OBS_FRAMES :].reshape(self.n, layout.OBS_DIM)
        return Observations(obs.clone(), priv, self.hist.clone())

    # --------------------------------------------------------------- protocol
    def reset(self) -> Observations:
        ids = torch.arange(self.n, device=self.device)
        self._reset_ids(ids)
        s = self.backend.state()
        self._after_reset(s, ids)
        return self._observe(s)

    def step(self, actions: torch.Tensor):
        nz = self.cfg.noise
        a = torch.nan_to_num(actions.to(self.device), nan=0.0).clamp(-1.0, 1.0)
        a = a + self.act_bias + nz.action_step * self._randn(self.n, layout.DOF)
        a = a.masked_fill(self.mask, 0.0)
        self.targets = torch.max(torch.min(self.targets + self.action_scale * a, self.upper), self.lower)
        self.backend.step(self.targets)
        s = self.backend.state()
        reward, terms = self.reward(s)
        self.steps += 1
        terminated = self._terminated(s)
        timed_out = (self.steps >= self.cfg.termination.episode_steps) & ~terminated
        done = terminated | timed_out
        self.ep_return += reward
        all_ids = torch.arange(self.n, device=self.device)
        self.hist = torch.cat([self.hist[:, 1:], self._frame(s, all_ids).unsqueeze(1)], 1)
        info = {"terms": terms, "time_outs": timed_out}  # type: Dict[str, object]
        done_ids = done.nonzero().flatten()
        if len(done_ids):
            dur = self.steps[done_ids].float() / layout.CONTROL_HZ
            info["episode"] = {
                "return": self.ep_return[done_ids].clone(),
                "length_s": dur,
                "rad_per_s": (s.angle[done_ids] - self.start_angle[done_ids]) / dur,
                "terminated": terminated[done_ids].clone(),
            }
            for cause, fired in self.watch.causes.items():
                info["episode"]["end_" + cause] = fired[done_ids].float()
            self._reset_ids(done_ids)
            s = self.backend.state()
            self._after_reset(s, done_ids)
        return self._observe(s), reward, done, info

    # ------------------------------------------------------------ method.md
    def reward(self, s: WorldState):
        r = self.cfg.reward
        v = s.angvel
        dist = torch.linalg.norm(s.tips[:, :2] - s.obj_pos.unsqueeze(1), dim=-1).mean(-1)
        terms = {
            "rotation": v.clamp(-r.angvel_clip, r.angvel_clip) * r.angvel_scale,
            "proximity": (1.0 - dist / self.cfg.termination.tip_distance_m).clamp(0.0, 1.0) * r.proximity_scale,
            "overspeed": (v - r.overspeed_limit).clamp(min=0.0) * r.overspeed_scale,
            "pose": (self.pose_weight * (s.q - self.init_targets) ** 2).sum(-1) * r.pose_scale,
            "torque": (s.torque**2).sum(-1) * r.torque_scale,
            "work": ((s.torque.abs() * s.qd.abs()).sum(-1) ** 2) * r.work_scale,
        }
        total = torch.stack(list(terms.values())).sum(0)
        return torch.nan_to_num(total, nan=0.0), terms

    def _terminated(self, s: WorldState) -> torch.Tensor:
        return self.watch.update(s)

    def close(self) -> None:
        self.backend.close()
