"""Scripted operators: a twin operator that fastens like a person would, and a World-free rehearsal script.

`ScriptedOperator` (twins) grasps and settles, starts the skill, lowers the
wrist with the object through the arm follower, notices a stall and recovers
(skill off, re-grasp, skill on) and marks success from the World's progress.
Its only window on the World is `ReadOnlyWorld` (progress, and the object's
pose to check its wrist against); it never resets, perturbs or drives the
object. Its human-like imperfections are named, seeded parameters
(`Imperfections`) stored with every episode.

`RehearsalOperator` needs no World (hardware in the loop, real cell): a fixed
wrist trajectory with the skill toggled on and off, for rehearsing a session.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk.teleop.command import EpisodeEvent, Frame, Mark, MotionKind, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import OperatorDevice, OperatorView
from dexscrew_sdk.teleop.follow import ArmFollower, ObjectView, pose_of


@dataclass(frozen=True)
class Imperfections:
    """How the scripted operator is not perfect. All zero: an ideal operator."""

    reaction_delay_s: float = 0.0  # decisions (skill on, stall noticed, re-grasp) take effect this late
    jitter_m: float = 0.0  # hand tremor: std of the wrist's position noise, metres (no drift)
    follow_lag_s: float = 0.0  # the wrist follows the object's descent this late
    misalignment_m: float = 0.0  # sideways error made while approaching; noticed and corrected
    correction_m_s: float = 0.004  # speed of that correction
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("reaction_delay_s", "jitter_m", "follow_lag_s", "misalignment_m"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0.0 <= v <= (0.05 if name.endswith("_m") else 5.0)):
                raise ValueError(f"Imperfections.{name} = {v!r} is out of range")
        if not self.correction_m_s > 0:
            raise ValueError("Imperfections.correction_m_s must be positive")


REGRASPS = ("grasp", "release", "restart")


@dataclass(frozen=True)
class ScriptParams:
    settle_s: float = 0.5  # hold the grasp this long before starting the skill
    stall_window_s: float = 4.0  # no progress over this long is a stall
    stall_turns: float = 0.05  # ... "no progress" = fewer turns than this
    regrasp_s: float = 0.5  # skill off and fingers back to the grasp this long
    regrasp: str = "grasp"  # how: "grasp" (grasp preset), "release" (open first), "restart" (skill from where it is)
    release_s: float = 0.5  # "release": fingers open this long before the grasp
    max_fruitless_recoveries: int = 4  # give up after this many recoveries in a row that brought no progress
    max_recoveries: int = 40  # ... or this many in all
    look_period_s: float = 0.25  # how often the operator looks at the object (its pose) to check the wrist
    deadband_m: float = 0.0003  # a sideways error the operator does not see
    imperfections: Imperfections = field(default_factory=Imperfections)

    def __post_init__(self) -> None:
        if self.regrasp not in REGRASPS:
            raise ValueError(f"ScriptParams.regrasp = {self.regrasp!r}; choose one of {list(REGRASPS)}")
        if self.max_fruitless_recoveries < 1 or self.max_recoveries < 0:
            raise ValueError("ScriptParams: max_fruitless_recoveries must be >= 1 and max_recoveries >= 0")


class _TargetProbe:
    """The arm as the follower sees it inside a session: wrist control sends the targets, the follower
    only says where it would put the wrist (its FollowStep)."""

    def __init__(self, arm: Any) -> None:
        self._arm = arm
        self.limits = arm.limits

    def state(self) -> Any:
        return self._arm.state()

    def servo(self, q_rad: Any, **_: Any) -> int:
        return -1


class ScriptedOperator(OperatorDevice):
    name = "scripted"
    kind = MotionKind.POSE_DELTA
    frame = Frame.BASE

    def __init__(self, world: ObjectView, arm: Any, pitch_m: float, period_s: float, params: ScriptParams) -> None:
        super().__init__()
        self.world, self.script, self.period_s = world, params, float(period_s)
        self.follower = ArmFollower(_TargetProbe(arm), world, pitch_m)  # type: ignore[arg-type]
        self.levels.clutch = True
        self.begin_episode(0, None)

    def params(self) -> dict[str, Any]:  # type: ignore[override]
        return {**super().params(), "script": asdict(self.script), "pitch_m": self.follower.pitch_m}

    def begin_episode(self, index: int, seed: int | None) -> None:
        imp = self.script.imperfections
        self.rng = np.random.default_rng([imp.seed, index])
        self.phase, self.phase_t = "grasp", 0.0
        self.t = 0.0
        self.levels.skill_on = False
        self.recoveries = self.fruitless = 0
        self.turns_at_recovery: float | None = None
        self.rel0: np.ndarray | None = None  # object minus tool, sideways, as first seen at the grasp
        self.seen_error = np.zeros(3)  # the sideways error the operator saw at its last look
        self.next_look_s = 0.0
        self.offset = np.zeros(3)  # where the operator's own errors have put the wrist
        self.tremor = np.zeros(3)
        self.lowered_applied = 0.0
        self.lowering: deque[tuple[float, float]] = deque()
        self.decisions: deque[tuple[float, str]] = deque()
        self.turns_mark: tuple[float, float] | None = None
        self.follow_started = False
        self.progress_reads = 0

    def _decide(self, what: str) -> None:
        """A decision takes effect after the reaction delay (once)."""
        if not any(d == what for _, d in self.decisions):
            self.decisions.append((self.t + self.script.imperfections.reaction_delay_s, what))

    def _due(self) -> list[str]:
        out = []
        while self.decisions and self.decisions[0][0] <= self.t + 1e-9:
            out.append(self.decisions.popleft()[1])
        return out

    def read(self, view: OperatorView) -> OperatorCommand:
        p, imp, dt = self.script, self.script.imperfections, self.period_s
        # the session's read of this step when it has one (one World call per step), else our own
        progress = view.progress if view.progress is not None else self.world.progress()
        self.progress_reads += 1
        events: dict[str, Any] = {}
        motion = np.zeros(6)
        if self.phase == "grasp":
            events["preset"] = Preset.GRASP
            self.offset[:] = 0.0
            pose = self._object_pose(view)
            if pose is not None:  # where the object sits relative to the hand: what to keep while turning
                self.rel0 = pose[:2] - np.asarray(view.tool_pose[:2], dtype=float)
                self.next_look_s = self.t + self.script.look_period_s
            self.phase, self.phase_t = "settle", self.t
            if imp.misalignment_m > 0:  # a sideways slip while approaching, in a random direction
                a = self.rng.uniform(0, 2 * np.pi)
                slip = imp.misalignment_m * np.array([np.cos(a), np.sin(a), 0.0])
                motion[:3] += slip
                self.offset += slip
        elif self.phase == "settle" and self.t - self.phase_t >= p.settle_s:
            self._decide("skill_on")
        elif self.phase == "turn":
            self._turning(progress, view)
        elif self.phase == "release" and self.t - self.phase_t >= p.release_s:
            events["preset"] = Preset.GRASP
            self.phase, self.phase_t = "regrasp", self.t
        elif self.phase == "regrasp" and self.t - self.phase_t >= p.regrasp_s:
            self._decide("skill_on")
        for what in self._due():
            if what == "skill_on" and self.phase in ("settle", "regrasp"):
                self.levels.skill_on, self.phase, self.phase_t = True, "turn", self.t
                self.turns_mark = (self.t, progress.turns_done)
                if self.turns_at_recovery is None:
                    self.turns_at_recovery = progress.turns_done  # what a first recovery is judged against
                if not self.follow_started:
                    self.follower.start()
                    self.follow_started = True
            elif what == "recover" and self.phase == "turn":
                self.recoveries += 1
                gained = progress.turns_done - (self.turns_at_recovery or 0.0)
                self.fruitless = self.fruitless + 1 if gained < p.stall_turns else 0
                self.turns_at_recovery = progress.turns_done
                if self.recoveries > p.max_recoveries or self.fruitless >= p.max_fruitless_recoveries:
                    events.update(mark=Mark.FAILURE, episode=EpisodeEvent.END)
                else:
                    self.levels.skill_on = False
                    if p.regrasp == "release":
                        events["preset"] = Preset.RELEASE
                        self.phase, self.phase_t = "release", self.t
                    else:
                        if p.regrasp == "grasp":
                            events["preset"] = Preset.GRASP
                        self.phase, self.phase_t = "regrasp", self.t
        if progress.fastened:
            self.levels.skill_on = False
            events.update(mark=Mark.SUCCESS, episode=EpisodeEvent.END)
        self._look(view)
        motion[:3] += self._follow(progress) + self._correct(dt) + self._jitter()
        self.t += dt
        return self.command(motion, **events)

    def _turning(self, progress: Any, view: OperatorView) -> None:
        t0, turns0 = self.turns_mark or (self.t, progress.turns_done)
        if progress.turns_done - turns0 >= self.script.stall_turns:
            self.turns_mark = (self.t, progress.turns_done)
        elif self.t - t0 >= self.script.stall_window_s:
            self._decide("recover")
            self.turns_mark = (self.t, progress.turns_done)

    def _follow(self, progress: Any) -> np.ndarray:
        """Lower with the object as the arm follower says, `follow_lag_s` late (wrist control sends it)."""
        if not self.follow_started:
            return np.zeros(3)
        self.lowering.append((self.t, self.follower.descent(progress)[1]))
        lag = self.script.imperfections.follow_lag_s
        want = 0.0
        while self.lowering and self.lowering[0][0] <= self.t - lag + 1e-9:
            want = self.lowering[0][1]
            if len(self.lowering) > 1 and self.lowering[1][0] <= self.t - lag + 1e-9:
                self.lowering.popleft()
            else:
                break
        step = want - self.lowered_applied
        self.lowered_applied = want
        return np.array([0.0, 0.0, -step])

    def _object_pose(self, view: OperatorView) -> np.ndarray | None:
        return pose_of(view.progress) if view.progress is not None else self.world.object_pose()

    def _look(self, view: OperatorView) -> None:
        """Every look_period_s: compare the object's pose with the tool's, sideways, against the grasp."""
        if self.rel0 is None or self.t + 1e-9 < self.next_look_s:
            return
        self.next_look_s = self.t + self.script.look_period_s
        pose = self._object_pose(view)
        if pose is None:
            return
        err = (pose[:2] - np.asarray(view.tool_pose[:2], dtype=float)) - self.rel0  # where the tool must go
        self.seen_error = np.array([*err, 0.0]) if np.linalg.norm(err) > self.script.deadband_m else np.zeros(3)

    def _correct(self, dt: float) -> np.ndarray:
        """Once settled, the operator removes the sideways error at correction speed: the one it sees on the
        object when the World shows its pose, else the one it knows it made."""
        if self.phase == "grasp":
            return np.zeros(3)
        err = self.seen_error if self.rel0 is not None else -self.offset
        if not np.any(err):
            return np.zeros(3)
        norm = float(np.linalg.norm(err))
        step = (
            err
            if norm <= self.script.imperfections.correction_m_s * dt
            else err / norm * (self.script.imperfections.correction_m_s * dt)
        )
        self.offset += step
        if self.rel0 is not None:
            self.seen_error -= step  # what is left of it until the next look
        return step

    def _jitter(self) -> np.ndarray:
        sigma = self.script.imperfections.jitter_m
        if sigma <= 0:
            return np.zeros(3)
        new = self.rng.normal(0.0, sigma, 3)
        step, self.tremor = new - self.tremor, new  # position noise, so it never drifts
        return step


@dataclass(frozen=True)
class RehearsalParams:
    duration_s: float = 6.0
    grasp_s: float = 0.5  # grasp preset, then hold
    skill_on_s: float = 1.0
    skill_off_s: float = 4.5
    lower_m_s: float = 0.0005  # the wrist goes down slowly while the skill runs
    sway_m: float = 0.002  # and sways sideways (a visible, bounded trajectory)
    sway_hz: float = 0.5


class RehearsalOperator(OperatorDevice):
    """A World-free scripted session for hardware in the loop and the real cell."""

    name = "rehearsal"
    kind = MotionKind.TWIST
    frame = Frame.BASE

    def __init__(self, period_s: float, params: RehearsalParams | None = None) -> None:
        super().__init__()
        self.period_s, self.script = float(period_s), params or RehearsalParams()
        self.levels.clutch = True
        self.t = 0.0

    def params(self) -> dict[str, Any]:  # type: ignore[override]
        return {**super().params(), "script": asdict(self.script)}

    def begin_episode(self, index: int, seed: int | None) -> None:
        self.t = 0.0
        self.levels.skill_on = False

    def read(self, view: OperatorView) -> OperatorCommand:
        s, t, events = self.script, self.t, {}
        if t < self.period_s / 2:
            events["preset"] = Preset.GRASP
        self.levels.skill_on = s.skill_on_s <= t < s.skill_off_s
        motion = np.zeros(6)
        if self.levels.skill_on:
            w = 2 * np.pi * s.sway_hz
            motion[1] = s.sway_m * w * np.cos(w * (t - s.skill_on_s))
            motion[2] = -s.lower_m_s
        if t + self.period_s / 2 >= s.duration_s:
            events["episode"] = EpisodeEvent.END
        self.t += self.period_s
        return self.command(motion, **events)
