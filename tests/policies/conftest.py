"""Fixtures of the RL tests: a synthetic world behind the real PyBullet backend (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policies.fake_world import FakeWorld

OFFICIAL = Path(__file__).resolve().parents[3] / "shared" / "external" / "dexscrew_official"
needs_official = pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"released checkpoints not present at {OFFICIAL}")


@pytest.fixture
def fake_world(monkeypatch: pytest.MonkeyPatch):
    """Route the PyBullet backend (workers=1) to FakeWorld."""
    from policies.rl.backends import pybullet as pb_backend

    made = []

    def make(task, num_envs, seed, **kwargs):
        from types import SimpleNamespace

        w = FakeWorld(SimpleNamespace(task=task, num_envs=num_envs, seed=seed, **kwargs))
        made.append(w)
        return w

    monkeypatch.setattr(pb_backend, "_make_world", make)
    from policies.rl import evaluate  # holds its own reference, bound when another test imported it first

    monkeypatch.setattr(evaluate, "_make_world", make)
    return made
