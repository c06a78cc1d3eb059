"""Exported skills evaluated in numpy (numpy_graph.py) act as under torch, to float32 rounding; anything the
evaluator does not implement, or any disagreement, keeps torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dexscrew_sdk.skills import Skill, SkillError, policy
from dexscrew_sdk.skills.numpy_graph import Unsupported, compile_graph

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {task: REPO / "policies" / "skills" / task for task in ("nut", "screwdriver")}


def _histories(skill: Skill, n: int, seed: int) -> list[np.ndarray]:
    """Histories the hand can report (uniform over the skill's joint range) and ones around its start frame."""
    rng = np.random.default_rng(seed)
    m = skill.meta
    lo, hi = np.concatenate([m.lower_rad, m.lower_rad]), np.concatenate([m.upper_rad, m.upper_rad])
    shape = (m.hist_len, len(lo))
    return [
        rng.uniform(lo, hi, shape) if i % 2 else np.tile(m.history_fill, (m.hist_len, 1)) + rng.normal(0, 0.1, shape)
        for i in range(n)
    ]


@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_shipped_skills_run_in_numpy_and_act_as_under_torch(task: str) -> None:
    skill = Skill.load(SHIPPED[task])
    pol = skill.policy
    assert pol.backend == "numpy"
    exact = compile_graph(pol.module, np.float64)  # the same graph in float64: torch's own rounding error
    gap = gap_exact = 0.0
    for hist in _histories(skill, 300, seed=1):
        a, b = pol(hist[-3:], hist), pol.run_torch(hist[-3:], hist)
        assert a.shape == b.shape == (12,)
        gap = max(gap, float(np.max(np.abs(a - b))))
        obs = pol._reorder_frames(hist[-3:]).reshape(1, -1).astype(np.float32)
        h = pol._reorder_frames(hist)[None].astype(np.float32)
        e = exact(obs.astype(np.float64), h.astype(np.float64))[0][pol._to_skill]
        gap_exact = max(gap_exact, float(np.max(np.abs(e - b))))
    # float32 under torch is itself ~1e-6 from exact arithmetic; another summation order in float32
    # (numpy's BLAS) is as far from torch as that, not farther: a few float32 ulps of 1
    assert gap <= 2e-6 and gap <= 2 * gap_exact, (gap, gap_exact)


def test_out_of_range_inputs_saturate_the_normalisation_alike() -> None:
    skill = Skill.load(SHIPPED["nut"])
    rng = np.random.default_rng(2)
    for scale in (5.0, 50.0):
        hist = rng.normal(0.0, scale, (skill.meta.hist_len, 24))
        a, b = skill.policy(hist[-3:], hist), skill.policy.run_torch(hist[-3:], hist)
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)


def test_a_skill_stepped_on_numpy_and_on_torch_sends_the_same_targets() -> None:
    from dexscrew_sdk.reference import KinematicCell

    targets = {}
    for backend in ("auto", "torch"):
        skill = Skill.load(SHIPPED["nut"], backend=backend)
        assert skill.policy.backend == ("numpy" if backend == "auto" else "torch")
        cell = KinematicCell()
        skill.start(cell.hand)
        out = []
        for _ in range(40):
            out.append(skill.step())
            cell.advance(cell.control_period_s)
        targets[backend] = np.array(out)
    # targets move by action_scale x action per step: 1e-6 of an action is 4e-8 rad
    np.testing.assert_allclose(targets["auto"], targets["torch"], rtol=0, atol=1e-6)


class _WithSigmoid(torch.nn.Module):
    def forward(self, obs: torch.Tensor, proprio_hist: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(obs[:, :12]) + proprio_hist.mean()


def test_an_operator_the_evaluator_lacks_keeps_torch() -> None:
    module = torch.jit.script(_WithSigmoid())
    with pytest.raises(Unsupported, match=r"operator aten::(sigmoid|mean|select|slice)"):
        compile_graph(module)
    pol = policy.ExportedPolicy(module, list(range(12)))
    hist = np.zeros((30, 24))
    assert pol.use_numpy([(hist[-3:], hist)]) is None
    assert pol.backend == "torch" and pol.program is None
    assert pol(hist[-3:], hist).shape == (12,)


def test_a_disagreeing_evaluator_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    skill = Skill.load(SHIPPED["nut"], backend="torch")
    pol = skill.policy
    real = compile_graph(pol.module)
    monkeypatch.setattr(
        "dexscrew_sdk.skills.numpy_graph.compile_graph", lambda m: lambda o, h: real(o, h) + 1e-4
    )  # off by 1e-4: beyond NUMPY_TOLERANCE
    gap = pol.use_numpy(policy._probes(skill.meta))
    assert gap is not None and gap > policy.NUMPY_TOLERANCE
    assert pol.backend == "torch" and pol.program is None


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(SkillError, match="backend"):
        Skill.load(SHIPPED["nut"], backend="onnx")


def test_the_history_holds_the_last_frames_oldest_first() -> None:
    from dexscrew_sdk.reference import KinematicCell

    meta = Skill.load(SHIPPED["nut"], backend="torch").meta
    seen: list[np.ndarray] = []

    def policy(obs: np.ndarray, hist: np.ndarray) -> np.ndarray:
        assert np.shares_memory(obs, hist) and np.array_equal(obs, hist[-3:])
        seen.append(hist.copy())
        return np.full(12, 0.5)

    skill, cell = Skill(policy, meta), KinematicCell()
    skill.start(cell.hand)
    expected = np.tile(skill._hist[-1], (meta.hist_len, 1))
    for i in range(meta.hist_len + 5):
        before = skill.target.copy()
        skill.step()
        if i:  # the first step sees the start frame only; each later one appends [q, previous target]
            expected = np.vstack([expected[1:], np.concatenate([cell.hand.state().q_rad, before])])
        np.testing.assert_array_equal(seen[-1], expected)
        cell.advance(cell.control_period_s)
