"""Training windows: K observation steps and the H-step action chunk that follows, gathered per batch.

Window t of an episode holds observations t-K+1 .. t (before the first step: the
first step repeated, as deployment starts its history) and actions t .. t+H-1 (after
the last step: the last action repeated, i.e. hold), minus the joint positions of step t when
the policy's actions are relative. Indices are precomputed once; a
batch is gathered with one fancy index per episode it touches, straight from the
memory-mapped episode files. The sampler yields whole batches (index arrays), so a
DataLoader worker returns a finished batch, and the same sampler splits an epoch
between DDP ranks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from policies.bc.data import EpisodeArrays


class WindowDataset(torch.utils.data.Dataset):
    """`ds[batch_indices]` -> dict of float32 tensors q (B, K, 18), tactile (B, K, 1800), action (B, H, 18).

    `relative`: each chunk's targets minus the window's newest joint positions (`BCLayout.action_frame`)."""

    def __init__(
        self,
        episodes: list[EpisodeArrays],
        history: int,
        horizon: int,
        use_touch: bool = True,
        relative: bool = True,
    ) -> None:
        self.episodes, self.history, self.horizon, self.use_touch = episodes, history, horizon, use_touch
        self.relative = relative
        lengths = np.array([len(e) for e in episodes], dtype=np.int64)
        self.episode_of = np.repeat(np.arange(len(episodes)), lengths)
        self.step_of = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, np.int64)
        self.lengths = lengths
        self._obs_off = np.arange(-history + 1, 1)
        self._act_off = np.arange(horizon)

    def __len__(self) -> int:
        return len(self.episode_of)

    def __getitem__(self, idx: np.ndarray | int) -> dict[str, torch.Tensor]:
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        b, k, h = len(idx), self.history, self.horizon
        q = np.empty((b, k, self.episodes[0].q.shape[1]), np.float32)
        act = np.empty((b, h, self.episodes[0].action.shape[1]), np.float32)
        tac = np.empty((b, k, self.episodes[0].tactile.shape[1]), np.float32) if self.use_touch else None
        eps, steps = self.episode_of[idx], self.step_of[idx]
        for e in np.unique(eps):
            rows = np.flatnonzero(eps == e)
            ep, n = self.episodes[e], self.lengths[e]
            obs_i = np.clip(steps[rows, None] + self._obs_off, 0, n - 1)
            act_i = np.clip(steps[rows, None] + self._act_off, 0, n - 1)
            # one sorted, de-duplicated read per array, then a gather in memory
            o_u, o_inv = np.unique(obs_i, return_inverse=True)
            a_u, a_inv = np.unique(act_i, return_inverse=True)
            q[rows] = np.asarray(ep.q[o_u])[o_inv.reshape(obs_i.shape)]
            act[rows] = np.asarray(ep.action[a_u])[a_inv.reshape(act_i.shape)]
            if tac is not None:
                tac[rows] = np.asarray(ep.tactile[o_u])[o_inv.reshape(obs_i.shape)]
        if self.relative:
            act -= q[:, -1:, :]
        out = {"q": torch.from_numpy(q), "action": torch.from_numpy(act)}
        if tac is not None:
            out["tactile"] = torch.from_numpy(tac)
        return out


class EpochBatches(torch.utils.data.Sampler):
    """Shuffled batches of window indices for one rank; deterministic in (seed, epoch).

    Every rank gets the same number of full batches (DDP steps stay in lockstep);
    `skip` resumes mid-epoch at the batch where an interrupted run stopped.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def batches_per_epoch(self) -> int:
        per_rank = self.n // self.world
        return max(1, per_rank // self.batch_size) if per_rank else 0

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch() - self.skip)

    def __iter__(self) -> Iterator[np.ndarray]:
        perm = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        mine = perm[self.rank :: self.world][: (self.n // self.world)]
        nb = self.batches_per_epoch()
        size = min(self.batch_size, len(mine))
        for i in range(self.skip, nb):
            yield mine[i * size : (i + 1) * size]
