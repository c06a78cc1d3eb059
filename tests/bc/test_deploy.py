"""Deployment: chunk execution and ensembling against the clock, smoothing, refusals, faults."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.safety import JointLimits
from policies.bc.deploy import DeployConfig, PolicyRunner, check_compatible, load_policy, run_policy
from policies.bc.executor import ChunkExecutor
from policies.bc.layout import PolicyMismatch
from tests.bc.conftest import needs_onnx
from tests.bc.fakes import FakeCell


def _chunk(h: int, value: float) -> np.ndarray:
    return np.full((h, 18), value)


def test_chunk_mode_executes_n_of_h_then_replans() -> None:
    ex = ChunkExecutor(horizon=4, mode="chunk", execute=2)
    planned = []
    for step in range(6):
        if ex.needs_plan(step):
            planned.append(step)
            ex.add(np.arange(4)[:, None] + 10.0 * step + np.zeros((4, 18)), step)
        a = ex.action(step)
        assert a is not None and a[0] == 10.0 * planned[-1] + (step - planned[-1])
    assert planned == [0, 2, 4] and ex.stats.stale_dropped == 0


def test_a_late_inference_drops_the_stale_actions() -> None:
    ex = ChunkExecutor(horizon=16, mode="chunk", execute=8)
    ex.add(np.arange(16)[:, None] + np.zeros((16, 18)), step=10)
    a = ex.action(12)  # inference took two periods: actions for steps 10 and 11 are gone
    assert a is not None and a[0] == 2.0 and ex.stats.stale_dropped == 2
    ens = ChunkExecutor(horizon=16, mode="ensemble")
    ens.add(_chunk(16, 1.0), step=5)
    assert ens.action(8) is not None and ens.stats.stale_dropped == 3


def test_temporal_ensembling_weights_the_oldest_first_and_counts_zero_targets() -> None:
    ex = ChunkExecutor(horizon=4, mode="ensemble", k=math.log(2))
    ex.add(_chunk(4, 0.0), step=0)  # a legitimate 0 rad target (an `!= 0` mask would drop it)
    ex.add(_chunk(4, 1.0), step=1)
    a = ex.action(1)
    assert a is not None
    np.testing.assert_allclose(a, (1.0 * 0.0 + 0.5 * 1.0) / 1.5)
    ex.add(_chunk(4, 2.0), step=4)
    a = ex.action(4)  # the chunk of step 0 has expired; step 1's and step 4's remain
    assert a is not None
    np.testing.assert_allclose(a, (1.0 * 1.0 + 0.5 * 2.0) / 1.5)


def test_run_policy_in_lockstep_uses_the_step_of_each_observation(trained: Path) -> None:
    cell = FakeCell()
    report = run_policy(cell, load_policy(trained), duration_s=2.0, cfg=DeployConfig(execute=8))
    assert report.fault is None and report.steps == 40
    assert report.plans == 5 and report.stale_dropped == 0 and report.empty_steps == 0
    assert len(cell.arm.sent) == len(cell.hand.sent) == 40 and cell.arm.stops == cell.hand.stops == 1


def test_the_clock_moving_during_inference_drops_stale_actions(trained: Path) -> None:
    cell = FakeCell()
    policy = load_policy(trained)
    predict = policy.predict

    def slow_predict() -> np.ndarray:
        cell.clock.time_s += 2 * cell.clock.period_s  # a 100 ms inference on a 50 ms loop
        return predict()

    policy.predict = slow_predict  # type: ignore[method-assign]
    report = run_policy(cell, policy, duration_s=1.0, cfg=DeployConfig(mode="ensemble"))
    assert report.fault is None and report.stale_dropped == 2 * report.plans


def test_arm_smoothing_starts_at_the_current_arm_position(trained: Path) -> None:
    cell = FakeCell()
    policy = load_policy(trained)
    goal = np.concatenate([cell.hand.q, cell.arm.q + 0.01])
    policy.predict = lambda: np.tile(goal, (16, 1))  # type: ignore[method-assign]
    runner = PolicyRunner(policy, cell, DeployConfig(arm_smoothing=0.7))
    runner.start()
    runner.step()
    np.testing.assert_allclose(cell.arm.sent[-1], joints.UR5E_HOME_RAD + 0.003, atol=1e-9)  # not 0.3 x goal


def test_arm_steps_are_limited_by_the_arms_speed(trained: Path) -> None:
    cell = FakeCell()
    policy = load_policy(trained)
    goal = np.concatenate([cell.hand.q, cell.arm.q + 1.0])
    policy.predict = lambda: np.tile(goal, (16, 1))  # type: ignore[method-assign]
    runner = PolicyRunner(policy, cell)
    runner.start()
    runner.step()
    step = cell.arm.sent[-1] - joints.UR5E_HOME_RAD
    np.testing.assert_allclose(step, joints.UR5E_MAX_SPEED_RAD_S * 0.05)
    assert runner.report().arm_rate_limited_steps == 1


def _narrow(lim: JointLimits, i: int, lo: float, hi: float) -> JointLimits:
    lower, upper = lim.lower_rad.copy(), lim.upper_rad.copy()
    lower[i], upper[i] = lo, hi
    return JointLimits(lim.names, lower, upper, lim.max_speed_rad_s)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c.clock, "period_s", 0.1), "control rate: checkpoint 20 Hz, cell 10 Hz"),
        (lambda c: setattr(c.tactile, "shape", (5, 120, 2)),
         r"tactile shape: checkpoint \(5, 120, 3\), cell \(5, 120, 2\)"),
        (
            lambda c: setattr(c.hand, "limits", JointLimits(
                (c.hand.limits.names[1], c.hand.limits.names[0], *c.hand.limits.names[2:]),
                c.hand.limits.lower_rad, c.hand.limits.upper_rad, c.hand.limits.max_speed_rad_s)),
            "joint order: index 0 is 'thumb_bend' in the checkpoint, 'thumb_rota1' on the cell",
        ),
        (
            lambda c: setattr(c.arm, "limits", JointLimits(
                c.arm.limits.names[:5], c.arm.limits.lower_rad[:5], c.arm.limits.upper_rad[:5],
                c.arm.limits.max_speed_rad_s[:5])),
            "joint count: checkpoint 18, cell 17",
        ),
        (lambda c: setattr(c.hand, "limits", _narrow(c.hand.limits, 0, 0.0, 0.5)),
         r"recorded action range of thumb_bend: \[0\.\d+, 1\.\d+\] rad lies outside the cell.s limits \[0\.0000, 0\.5"),
    ],
)  # fmt: skip
def test_a_checkpoint_that_does_not_fit_is_refused_before_anything_moves(trained: Path, change, message) -> None:
    cell = FakeCell()
    change(cell)
    with pytest.raises(PolicyMismatch, match=message):
        run_policy(cell, load_policy(trained), duration_s=1.0)
    assert cell.arm.sent == [] and cell.hand.sent == [] and cell.arm.stops == cell.hand.stops == 0


def test_the_fitting_cell_passes_the_check(trained: Path) -> None:
    check_compatible(load_policy(trained), FakeCell())


def test_a_finger_recorded_at_its_limit_passes_the_check(trained: Path) -> None:
    """A constant action channel at a joint limit (unused fingers held at 0 rad) is inside the limits,
    though its scaling range is widened around it."""
    policy = load_policy(trained)
    norm = policy.loaded.normaliser
    i = 9  # ring_j2: lower limit 0 rad
    norm.action_min_rad[i] = norm.action_max_rad[i] = 0.0
    norm.action.lo[i], norm.action.hi[i] = -0.0005, 0.0005
    check_compatible(policy, FakeCell())


def test_a_device_fault_stops_arm_and_hand_and_is_reported(trained: Path) -> None:
    cell = FakeCell()
    cell.hand.fail_after = 10
    report = run_policy(cell, load_policy(trained), duration_s=5.0)
    assert report.fault == "DeviceFault: hand: EtherCAT link lost"
    assert report.steps < 100 and cell.arm.stops == 1 and cell.hand.stops == 1


def test_commands_go_through_the_safety_layer(trained: Path) -> None:
    cell = FakeCell()
    cell.clock.on_wait = lambda: cell.arm.emergency_stop() if cell.clock.time_s > 0.5 else cell._follow()
    report = run_policy(cell, load_policy(trained), duration_s=2.0)
    assert report.fault is not None and report.fault.startswith("EmergencyStopActive: servo refused")
    assert 10 <= report.steps <= 11 and cell.hand.stops == 1


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnx", marks=needs_onnx)])
@pytest.mark.parametrize("touch", [True, False])
def test_the_deployed_step_gives_the_eager_networks_actions(trained: Path, touch: bool, backend: str) -> None:
    import torch

    from policies.bc.checkpoint import LoadedPolicy
    from policies.bc.data import synthetic_episodes
    from policies.bc.layout import BCLayout
    from policies.bc.model import BCNet
    from policies.bc.normalise import Normaliser
    from policies.bc.policy import BCPolicy
    from tests.bc.conftest import tiny_model

    cfg = tiny_model(use_touch=touch)
    net = BCNet(cfg).eval()
    ep = synthetic_episodes(1, 30)[0]
    norm = Normaliser.fit([(ep.q, ep.tactile if touch else None, ep.action)], 30)
    policy = BCPolicy(LoadedPolicy(net, BCLayout(use_touch=touch), norm, cfg, {}, trained), backend)
    absolute = BCPolicy(
        LoadedPolicy(net, BCLayout(use_touch=touch, action_frame="absolute"), norm, cfg, {}, trained), backend
    )
    assert policy.backend == backend and (policy.step_net is None) == (backend == "onnx")
    k = cfg.history
    for i in range(9):  # past K steps: the history rings wrap
        chunk = policy.act(ep.q[i], ep.tactile[i].reshape(5, 120, 3) if touch else None)
        chunk_absolute = absolute.act(ep.q[i], ep.tactile[i].reshape(5, 120, 3) if touch else None)
        idx = [max(0, j) for j in range(i - k + 1, i + 1)]
        q, t = policy.norm.observations(
            torch.from_numpy(ep.q[idx][None]).float(),
            torch.from_numpy(ep.tactile[idx][None]).float() if touch else None,
        )
        hq, ht = policy.history
        np.testing.assert_allclose(hq.numpy(), q[0].numpy(), atol=1e-6)
        assert (ht is None) == (not touch) and (ht is None or np.allclose(ht.numpy(), t[0].numpy(), atol=1e-6))
        with torch.no_grad():
            eager = policy.norm.actions_rad(net(q, t)[0]).double().numpy()
        np.testing.assert_allclose(chunk, eager + ep.q[i], atol=1e-5)  # relative: offsets from the newest joints
        np.testing.assert_allclose(chunk_absolute, eager, atol=1e-5)
        np.testing.assert_allclose(policy.forward_only(), net(q, t)[0].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnx", marks=needs_onnx)])
def test_a_refused_observation_leaves_the_history_as_it_was(trained: Path, backend: str) -> None:
    import torch

    from policies.bc.layout import BCError

    policy = load_policy(trained, backend=backend)
    ep_q = np.linspace(0.1, 0.5, 18)
    touch = np.full((5, 120, 3), 0.2)
    for _ in range(3):
        policy.act(ep_q, touch)
    before = policy.predict()
    hq, ht = (h.clone() for h in policy.history)
    bad = touch.copy()
    bad[2, 7, 1] = np.nan
    with pytest.raises(BCError, match="tactile frame must be"):
        policy.observe(ep_q + 0.3, bad)  # a valid q with a broken frame: nothing may be written
    with pytest.raises(BCError, match="observation q must be 18 finite values"):
        policy.observe(ep_q[:17], touch)
    assert torch.equal(policy.history[0], hq) and torch.equal(policy.history[1], ht)
    np.testing.assert_array_equal(policy.predict(), before)
