"""The session on in-process devices: what is sent is what is recorded, the skill owns the hand only while on,
the scripted operator only reads the World, and each of its imperfections changes the trajectory."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dexscrew_sdk import kinematics
from dexscrew_sdk.interfaces import ur5e_limits
from dexscrew_sdk.recording import OperatorEvent, Recorder, load_episode
from dexscrew_sdk.teleop.command import MotionKind, Preset
from dexscrew_sdk.teleop.follow import ReadOnlyWorld
from dexscrew_sdk.teleop.hand_control import HandControl
from dexscrew_sdk.teleop.scripted import Imperfections, RehearsalOperator, ScriptedOperator, ScriptParams
from dexscrew_sdk.teleop.session import SessionConfig, TeleopSession
from dexscrew_sdk.teleop.wrist import WristController
from tests.teleop.conftest import LocalCell, fake_skill

TOOL = np.array([0.0, 0.0, 0.15, 0.0, 0.0, 0.0])
FAST = ScriptParams(settle_s=0.2, stall_window_s=1.0, stall_turns=0.02, regrasp_s=0.2)


class ReadSpy:
    """The World as the scripted operator is given it, logging every attribute it touches."""

    def __init__(self, world: object) -> None:
        self._world, self.touched = world, []

    def __getattr__(self, name: str) -> object:
        self.touched.append(name)
        return getattr(self._world, name)


def _session(cell: LocalCell, device, tmp_path, seconds: float = 3.0, episodes: int = 1, skill=None):
    wrist = WristController(TOOL, cell.clock.period_s, ur5e_limits())
    hand = HandControl(cell.hand, skill or fake_skill())
    cfg = SessionConfig("nut", "square", episodes=episodes, max_episode_s=seconds, auto_start=True, seeds=[7, 8])
    rec = Recorder(tmp_path / "ds")
    return TeleopSession(cell, device, wrist, hand, cfg, rec), rec


def _scripted(cell: LocalCell, params: ScriptParams = FAST, spy: ReadSpy | None = None) -> ScriptedOperator:
    world = ReadOnlyWorld(cell.world) if spy is None else spy
    return ScriptedOperator(world, cell.arm, 0.00175, cell.clock.period_s, params)


def _record(cell: LocalCell, device, tmp_path, **kw):
    session, rec = _session(cell, device, tmp_path, **kw)
    outcomes = session.run()
    rec.close()
    return outcomes, [load_episode(o.path) for o in outcomes if o.path]


def test_scripted_operator_only_reads_world_progress_and_the_object_pose(local_cell: LocalCell, tmp_path) -> None:
    local_cell.world.k = 0.0  # a stall too: recovering must not reach for the World either
    spy = ReadSpy(ReadOnlyWorld(local_cell.world))
    params = replace(FAST, imperfections=Imperfections(misalignment_m=0.002, seed=1))
    outcomes, _ = _record(local_cell, _scripted(local_cell, params, spy=spy), tmp_path)
    assert outcomes[0].steps == 60
    touched = set(spy.touched)
    assert touched and touched <= {"progress", "object_pose"}  # never reset, perturb (assist_turn), nothing that drives
    public = {n for n in dir(ReadOnlyWorld(local_cell.world)) if not n.startswith("_")}
    assert public == {"progress", "object_pose"}  # and it has no way to
    calls = local_cell.world.calls
    assert calls[0] == "reset" and calls.count("reset") == 1  # the session resets the scene, once
    assert set(calls[1:]) == {"progress"}
    assert calls.count("progress") <= outcomes[0].steps + 2  # one World call per step (a node round trip each)


def test_the_object_pose_is_a_copy_that_moves_nothing(local_cell: LocalCell) -> None:
    view = ReadOnlyWorld(local_cell.world)
    pose = view.object_pose()
    assert pose is not None and pose.shape == (6,)
    pose[:] = 9.0
    np.testing.assert_allclose(view.object_pose()[:3], local_cell.world.object_xyz_m)
    local_cell.world.object_xyz_m = None
    assert view.object_pose() is None  # a World that shows no pose


@pytest.mark.parametrize("shows_pose", [True, False])
def test_a_misalignment_is_seen_and_corrected(local_cell: LocalCell, tmp_path, shows_pose: bool) -> None:
    """With the object's pose the operator corrects what it sees; without it, the slip it knows it made."""
    if not shows_pose:
        local_cell.world.object_xyz_m = None
    local_cell.world.k, local_cell.world.required = 0.0, 100.0  # no descent: only the sideways error moves
    params = replace(FAST, imperfections=Imperfections(misalignment_m=0.003, seed=2))
    _, (ep,) = _record(local_cell, _scripted(local_cell, params), tmp_path, seconds=3.0)
    xy = np.array([kinematics.forward(q)[:2] for q in ep.data["q_rad"][:, 12:]])
    slip = np.linalg.norm(xy - xy[0], axis=1)
    assert slip.max() > 0.002  # the slip happened ...
    assert slip[-1] < 0.0006  # ... and was taken out again (within the deadband and the arm's lag)


def test_the_operator_gives_up_only_after_fruitless_recoveries(local_cell: LocalCell, tmp_path) -> None:
    local_cell.world.k = 0.0  # nothing ever turns
    params = replace(FAST, max_fruitless_recoveries=2)
    outcomes, (ep,) = _record(local_cell, _scripted(local_cell, params), tmp_path, seconds=20.0)
    ops = ep.data["operator_events"]
    assert outcomes[0].success is False and ops[-1] & OperatorEvent.MARK_FAILURE
    assert (ops & OperatorEvent.SKILL_START).sum() == 2  # the first start, one recovery; a second fruitless one ends it


def test_recorded_actions_are_what_was_sent_and_skill_off_holds_the_hand(local_cell: LocalCell, tmp_path) -> None:
    outcomes, (ep,) = _record(local_cell, _scripted(local_cell), tmp_path)
    d = ep.data
    skill = d["skill_on"].astype(bool)
    assert skill.any() and not skill[0]  # grasp and settle first, then the skill
    assert outcomes[0].skill_toggles >= 1
    ops = d["operator_events"]
    assert ops[0] & OperatorEvent.GRASP_PRESET and ops[0] & OperatorEvent.EPISODE_START
    assert (ops & OperatorEvent.SKILL_START).any()
    off = ~skill
    hand_off = d["action_rad"][off, :12]
    assert np.ptp(hand_off[:3], axis=0).max() < 1e-6  # skill off: one held target ...
    np.testing.assert_allclose(
        hand_off[0], local_cell.hand.limits.clip(fake_skill().meta.initial_targets_rad), atol=1e-6
    )  # ... the grasp preset's
    assert np.ptp(d["action_rad"][skill, :12], axis=0).max() > 0.01  # skill on: the skill's targets
    # arm and hand command seqs advance with what was sent; every source's own stamp and seq is kept
    assert (np.diff(d["arm_cmd_seq"]) > 0).all() and (np.diff(d["hand_cmd_seq"]) > 0).all()
    for src in ("arm", "hand", "tactile"):
        assert (d[f"{src}_stamp_ns"] > 0).all() and (np.diff(d[f"{src}_seq"]) > 0).all()
    assert np.isfinite(d["turns_done"]).all()  # the World's progress was read at every step
    assert ep.meta["operator_device"] == "scripted" and ep.meta["seed"] == 7
    assert ep.meta["operator_params"]["script"]["imperfections"]["seed"] == 0


def test_a_stall_is_noticed_and_recovered_by_regrasping(local_cell: LocalCell, tmp_path) -> None:
    local_cell.world.k = 0.0  # the object never turns
    _, (ep,) = _record(local_cell, _scripted(local_cell), tmp_path, seconds=4.0)
    ops = ep.data["operator_events"]
    assert (ops & OperatorEvent.SKILL_STOP).sum() >= 2 and (ops & OperatorEvent.GRASP_PRESET).sum() >= 3
    assert (ops & OperatorEvent.SKILL_START).sum() >= 2  # ... and the skill comes back on


def test_success_is_marked_from_world_progress(local_cell: LocalCell, tmp_path) -> None:
    local_cell.world.required = 0.05
    outcomes, (ep,) = _record(local_cell, _scripted(local_cell), tmp_path, seconds=6.0)
    assert outcomes[0].success is True and ep.meta["success"] is True
    assert ep.data["operator_events"][-1] & OperatorEvent.MARK_SUCCESS
    assert outcomes[0].steps < 120  # ended on the mark, not by the time limit


@pytest.mark.parametrize(
    "imperfection",
    [
        {"reaction_delay_s": 0.4},
        {"jitter_m": 0.0005},
        {"follow_lag_s": 0.5},
        {"misalignment_m": 0.003},
    ],
)
def test_each_imperfection_changes_the_recorded_trajectory(local_cell: LocalCell, tmp_path, imperfection) -> None:
    local_cell.world.k, local_cell.world.required = 0.4, 100.0  # turns fast enough that following matters
    _, (base,) = _record(local_cell, _scripted(local_cell), tmp_path / "a", seconds=2.0)
    other_cell = _fresh_cell()
    params = replace(FAST, imperfections=Imperfections(seed=3, **imperfection))
    _, (ep,) = _record(other_cell, _scripted(other_cell, params), tmp_path / "b", seconds=2.0)
    name, value = next(iter(imperfection.items()))
    assert ep.meta["operator_params"]["script"]["imperfections"][name] == value
    a, b = base.data, ep.data
    differs = np.abs(a["action_rad"] - b["action_rad"]).max(axis=1) > 1e-7
    assert differs.any(), f"{name} left the recorded actions unchanged"
    np.testing.assert_array_equal(a["q_rad"][0], b["q_rad"][0])  # same start: the operator made the difference


def _fresh_cell() -> LocalCell:
    from dexscrew_sdk.reference import KinematicCell
    from tests.teleop.conftest import FakeWorld, SimClock

    sim = KinematicCell(seed=0)
    devices = dict(sim.devices())
    devices["world"] = FakeWorld(sim, turns_per_rad=0.4, turns_required=100.0)
    return LocalCell(sim, SimClock(sim), devices)


def test_the_rehearsal_script_needs_no_world_and_toggles_the_skill(local_cell: LocalCell, tmp_path) -> None:
    del local_cell.devices["world"]
    outcomes, (ep,) = _record(local_cell, RehearsalOperator(local_cell.clock.period_s), tmp_path, seconds=30.0)
    d = ep.data
    assert outcomes[0].reason == "operator" and len(d["step_index"]) == 121  # ends itself at 6 s
    assert d["skill_on"].any() and not d["skill_on"][-1] and outcomes[0].skill_toggles == 2
    assert np.isnan(d["turns_done"]).all()  # no World: no ground truth, recorded as such
    assert np.ptp(d["action_rad"][:, 12:], axis=0).max() > 1e-4  # the wrist did move
    assert ep.meta["cell_kind"] == "real"


class _CtrlC(RehearsalOperator):
    """An operator at whose 10th step the user presses Ctrl-C."""

    def read(self, view):
        if view.step == 10:
            raise KeyboardInterrupt
        return super().read(view)


def test_ctrl_c_keeps_the_running_episode_and_ends_the_session(local_cell: LocalCell, tmp_path) -> None:
    session, rec = _session(local_cell, _CtrlC(local_cell.clock.period_s), tmp_path, episodes=2)
    outcomes = session.run()
    rec.close()
    assert session.interrupted and len(outcomes) == 1
    ep = load_episode(outcomes[0].path)
    assert ep.meta["end_reason"] == "interrupted" and len(ep.data["step_index"]) == 10
    assert not session.hand.skill_on


def test_a_device_that_stops_publishing_closes_and_marks_the_episode(local_cell: LocalCell, tmp_path) -> None:
    from dexscrew_sdk.errors import DeviceTimeoutError

    hand = local_cell.hand
    reads = {"n": 0}
    real_state = hand.state

    def state():
        reads["n"] += 1
        if reads["n"] > 40:
            raise DeviceTimeoutError("hand: no state for 0.25 s; is its node running?")
        return real_state()

    session, rec = _session(local_cell, RehearsalOperator(local_cell.clock.period_s), tmp_path, episodes=1)
    hand.state = state  # the hand's node dies mid-episode
    outcomes = session.run()
    rec.close()
    assert outcomes[0].reason == "source_stopped"
    ep = load_episode(outcomes[0].path)
    assert ep.meta["end_reason"] == "source_stopped" and "no state" in ep.meta["end_detail"]["why"]
    assert 0 < len(ep.data["step_index"]) < 40  # the rows stop where the samples stopped: nothing padded


class _Reacher(RehearsalOperator):
    """Pushes the wrist 2 m away in one increment at step 5: out of the UR5e's reach."""

    kind = MotionKind.POSE_DELTA

    def read(self, view):
        cmd = super().read(view)
        if view.step == 5:
            return replace(cmd, motion=np.array([2.0, 0, 0, 0, 0, 0]), clutch=True)
        return replace(cmd, motion=np.zeros(6))


def test_an_ik_failure_is_shown_on_the_status_line_and_recorded(local_cell: LocalCell, tmp_path) -> None:
    import io

    from dexscrew_sdk.recording import ControlEvent
    from dexscrew_sdk.safety import Workspace
    from dexscrew_sdk.teleop.status import StatusLine
    from dexscrew_sdk.teleop.wrist import WristLimits

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    session, rec = _session(local_cell, _Reacher(local_cell.clock.period_s), tmp_path, seconds=1.0)
    session.wrist.limits = WristLimits(max_linear_m_s=100.0, workspace=Workspace((-5, -5, -5), (5, 5, 5)))
    session.status = StatusLine(screen, max_hz=1e9)
    shown = []
    show = session.status.show
    session.status.show = lambda text: (shown.append(text), show(text))  # type: ignore[method-assign]
    outcomes = session.run()
    rec.close()
    ep = load_episode(outcomes[0].path)
    events = ep.data["control_events"]
    assert events[5] & ControlEvent.IK_FAILED and not events[4] & ControlEvent.IK_FAILED
    assert "IK FAIL" in shown[5] and "IK ok" in shown[4]
    assert "IK FAIL" in screen.getvalue()
    assert any(e["kind"] == "ik_failed" for e in ep.events)
    np.testing.assert_allclose(ep.data["action_rad"][5, 12:], ep.data["action_rad"][4, 12:], atol=1e-6)


class _Lifter(RehearsalOperator):
    """Lifts the wrist 1 cm per step from step 3 on."""

    kind = MotionKind.POSE_DELTA

    def read(self, view):
        cmd = super().read(view)
        lift = np.array([0, 0, 0.01, 0, 0, 0]) if view.step >= 3 else np.zeros(6)
        return replace(cmd, motion=lift, clutch=True)


def test_a_target_the_arm_rejects_is_recorded_with_the_command_still_in_effect(local_cell, tmp_path) -> None:
    from dexscrew_sdk import kinematics
    from dexscrew_sdk.recording import ControlEvent
    from dexscrew_sdk.safety import Workspace

    arm = local_cell.arm
    z0 = kinematics.forward(arm.q, arm.tcp_offset)[2]
    arm.workspace = Workspace((-2, -2, -2), (2, 2, z0 + 0.025))  # the arm's own limit, tighter than teleop's
    session, rec = _session(local_cell, _Lifter(local_cell.clock.period_s), tmp_path, seconds=0.5)
    outcomes = session.run()
    rec.close()
    d = load_episode(outcomes[0].path).data
    rejected = (d["control_events"] & ControlEvent.ARM_REJECTED) != 0
    assert rejected.any() and not rejected[:4].any()
    first = int(np.flatnonzero(rejected)[0])
    assert np.isfinite(d["rejected_target_rad"][first, 12:]).all()  # what was refused ...
    np.testing.assert_array_equal(d["action_rad"][first, 12:], d["action_rad"][first - 1, 12:])  # ... and what held
    assert (d["arm_cmd_seq"][first] == d["arm_cmd_seq"][first - 1]) and np.isnan(d["rejected_target_rad"][0]).all()


def test_a_release_regrasp_opens_the_fingers_before_grasping_again(local_cell: LocalCell, tmp_path) -> None:
    local_cell.world.k = 0.0  # a stall
    params = replace(FAST, regrasp="release", release_s=0.2)
    _, (ep,) = _record(local_cell, _scripted(local_cell, params), tmp_path, seconds=3.0)
    ops = ep.data["operator_events"]
    released = np.flatnonzero(ops & OperatorEvent.RELEASE_PRESET)
    grasped = np.flatnonzero(ops & OperatorEvent.GRASP_PRESET)
    assert len(released) >= 1 and (grasped > released[0]).any()  # open, then the grasp, then the skill again
    open_rad = local_cell.hand.limits.clip(np.zeros(12))
    np.testing.assert_allclose(ep.data["action_rad"][released[0], :12], open_rad, atol=1e-6)
    with pytest.raises(ValueError, match="regrasp"):
        ScriptParams(regrasp="wiggle")


class PastLimitHand:
    """A hand whose joint 1 rests on its lower limit and reads a hair past it, as the engine's and real
    encoders do."""

    def __init__(self, hand: object) -> None:
        self._hand = hand

    def __getattr__(self, name: str) -> object:
        return getattr(self._hand, name)

    def state(self):  # type: ignore[no-untyped-def]
        s = self._hand.state()
        q = np.array(s.q_rad, dtype=float)
        q[1] = self._hand.limits.lower_rad[1] - 1e-9
        return replace(s, q_rad=q)


def test_holding_a_joint_that_reads_past_its_limit_is_not_refused(local_cell: LocalCell) -> None:
    hand = PastLimitHand(local_cell.hand)
    control = HandControl(hand, fake_skill())  # type: ignore[arg-type]
    for _ in range(2):
        control.reset()
        step = control.step(want_skill=False, preset=Preset.NONE)
        assert step.rejected_rad is None
        assert step.target_rad[1] == local_cell.hand.limits.lower_rad[1]
