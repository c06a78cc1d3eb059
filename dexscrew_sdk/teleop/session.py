"""The teleoperation session: plain application code on `Cell`, identical on twins and real cells.

Per control step: read every source (each sample keeps its own stamp), read the
operator, wrist control -> arm, skill or held target -> hand, feed the
recorder with what was actually sent, show one status line, wait for the clock.
Episodes start on the operator's START (scripted operators start at once), end
on END, QUIT, a success/failure mark from a scripted operator, or the time
limit; RERECORD drops the attempt and records it again, DISCARD drops it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexscrew_sdk.errors import CommandRejected, DeviceTimeoutError, DexscrewError
from dexscrew_sdk.recording.errors import SourceStoppedError
from dexscrew_sdk.records import TaskProgress
from dexscrew_sdk.teleop.command import EpisodeEvent, Mark, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import OperatorDevice, OperatorView
from dexscrew_sdk.teleop.hand_control import HandControl
from dexscrew_sdk.teleop.status import StatusLine
from dexscrew_sdk.teleop.wrist import WristController

_CONTROL_BITS = {
    "ik_failed": 1,
    "workspace": 2,
    "joint_limit": 4,
    "tool_speed": 8,
    "joint_speed": 8,
    "joint_accel": 16,
    "hand_rejected": 32,
    "arm_rejected": 64,
    "overrun": 128,
}


@dataclass
class SessionConfig:
    task: str
    shape: str
    episodes: int = 1
    max_episode_s: float = 60.0
    auto_start: bool = False  # start recording at once (scripted operators) instead of on START
    reset_world: bool = True  # twins: reset the world before each episode
    seeds: list[int] = field(default_factory=list)  # scene seed per episode (twins)
    randomisation: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # EpisodeMeta fields the caller knows (cell, hash, ...)

    def __post_init__(self) -> None:
        if self.episodes < 1 or not self.max_episode_s > 0:
            raise ValueError("session: episodes must be >= 1 and max_episode_s > 0")


@dataclass
class EpisodeOutcome:
    index: int
    kept: bool
    steps: int
    success: bool | None
    reason: str
    skill_toggles: int
    progress: TaskProgress | None
    events: dict[str, int]
    path: str | None = None


class TeleopSession:
    def __init__(
        self,
        cell: Any,
        device: OperatorDevice,
        wrist: WristController,
        hand: HandControl,
        cfg: SessionConfig,
        recorder: Any = None,
        status: StatusLine | None = None,
    ) -> None:
        self.cell, self.device, self.wrist, self.hand, self.cfg = cell, device, wrist, hand, cfg
        self.recorder = recorder
        self.status = status or StatusLine(None)
        self.world = cell.devices.get("world")
        self.has_tactile = "tactile" in cell.devices
        self.outcomes: list[EpisodeOutcome] = []
        self._handles: list[Any] = []
        self._writer: Any = None
        self._quit = False
        self.interrupted = False

    # ------------------------------------------------------------------ episodes
    def run(self, progress: Any = None) -> list[EpisodeOutcome]:
        """Record cfg.episodes kept episodes (or until QUIT / Ctrl-C); returns every attempt's outcome."""
        kept, attempt = 0, 0
        try:
            while kept < self.cfg.episodes and not self._quit:
                outcome = self.run_episode(kept, attempt)
                attempt += 1
                self.outcomes.append(outcome)
                kept += int(outcome.kept or outcome.reason == "discarded")
                if progress is not None:
                    progress(self.outcomes)
        finally:
            self.status.close()
            with contextlib.suppress(DexscrewError):  # a hand that is gone is held by its node's watchdog
                self.hand.reset()  # the skill lets go of the hand, which holds where it is
        for h, outcome in self._handles:
            outcome.path = str(h.wait().path)
        return self.outcomes

    def _seed(self, index: int) -> int | None:
        return self.cfg.seeds[index] if index < len(self.cfg.seeds) else None

    def _begin(self, index: int) -> None:
        seed = self._seed(index)
        if self.world is not None and self.cfg.reset_world:
            self.world.reset(self.cfg.task, self.cfg.shape, seed=seed or 0, randomisation=self.cfg.randomisation)
        self.wrist.reset(self.cell.arm.state().q_rad)
        self.hand.reset()
        begin = getattr(self.device, "begin_episode", None)
        if begin is not None:
            begin(index, seed)

    def _meta(self, index: int) -> Any:
        from dexscrew_sdk.recording import EpisodeMeta

        m = dict(self.cfg.meta)
        m.setdefault("cell", self.cell.config.name)
        m.setdefault("cell_kind", "twin" if self.world is not None else "real")
        sources = ["arm", "hand"] + (["tactile"] if self.has_tactile else [])
        params = {**self.device.params(), "tool_offset": self.wrist.tool_offset.tolist()}
        return EpisodeMeta(
            task=self.cfg.task,
            shape=self.cfg.shape,
            control_hz=1.0 / self.cell.clock.period_s,
            seed=self._seed(index),
            operator_device=self.device.name,
            operator_params=params,
            randomisation=dict(self.cfg.randomisation),
            sources=sources,
            **m,
        )

    def run_episode(self, index: int, attempt: int) -> EpisodeOutcome:
        """One episode; Ctrl-C ends it like END (kept, reason "interrupted") and ends the session."""
        self._writer = None
        try:
            return self._episode(index)
        except KeyboardInterrupt:
            self._quit = self.interrupted = True
            writer, self._writer = self._writer, None
            handle = writer.end(None, reason="interrupted") if writer is not None else None
            steps = writer.n_steps if writer is not None else 0
            return self._outcome(index, writer is not None, steps, None, "interrupted", 0, None, {}, handle)

    def _episode(self, index: int) -> EpisodeOutcome:
        self._begin(index)
        writer = None
        if self.cfg.auto_start and self.recorder is not None:
            writer = self._writer = self.recorder.begin(self._meta(index))
        recording = self.cfg.auto_start
        limit = round(self.cfg.max_episode_s / self.cell.clock.period_s)
        steps, toggles, events = 0, 0, {k: 0 for k in _CONTROL_BITS}
        prev_cmd = OperatorCommand()
        success: bool | None = None
        reason, progress = "time_limit", None
        overruns = getattr(self.cell.clock, "overruns", 0)
        while True:
            try:
                sample = self._read_sources()
                # once per step, beside the sources: what the scripted operator decides from and what is recorded
                progress = self.world.progress() if self.world is not None else None
            except DeviceTimeoutError as exc:
                handle = writer.source_stopped("device", str(exc)) if writer is not None else None
                self._writer, self._quit = None, True  # a cell with a silent device cannot record more
                return self._outcome(
                    index, writer is not None, steps, None, "source_stopped", toggles, None, events, handle
                )
            view = OperatorView(
                step=steps,
                time_s=float(self.cell.clock.now()),
                q_arm_rad=sample["arm"].q_rad,
                tool_pose=self.wrist.tool_pose(sample["arm"].q_rad),
                q_hand_rad=sample["hand"].q_rad,
                skill_on=self.hand.skill_on,
                progress=progress,
            )
            cmd = self.device.read(view)
            if cmd.episode == EpisodeEvent.START and not recording:
                recording = True
                if self.recorder is not None:
                    writer = self._writer = self.recorder.begin(self._meta(index))
            control, arm_target, arm_seq, arm_rejected = self._drive_arm(cmd, sample["arm"].q_rad)
            hand_step = self.hand.step(cmd.skill_on, cmd.preset)
            if hand_step.rejected_rad is not None:
                control.append("hand_rejected")
            toggles += int(hand_step.skill_started) + int(hand_step.skill_stopped)
            now_overruns = getattr(self.cell.clock, "overruns", 0)
            if now_overruns > overruns:
                control.append("overrun")
            overruns = now_overruns
            for e in control:
                events[e] = events.get(e, 0) + 1
            if recording:
                if writer is not None:
                    row = self._record(
                        steps, sample, cmd, prev_cmd, hand_step, arm_target, arm_seq, arm_rejected, control, progress
                    )
                    try:
                        writer.append(row)
                    except SourceStoppedError:  # the recorder closed and marked the episode itself
                        self._writer, self._quit = None, True
                        return self._outcome(index, True, steps + 1, None, "source_stopped", toggles, progress, events)
                    if "ik_failed" in control:
                        writer.event("ik_failed", tool_target=self.wrist.target[:3, 3].tolist())
                steps += 1
            if self.status.live:  # nothing to draw on (scripted runs, no terminal): the text is not built
                self.status.show(self._status_text(index, steps, cmd, control, progress, recording))
            prev_cmd = cmd
            if cmd.mark != Mark.NONE:
                success = cmd.mark == Mark.SUCCESS
            ev = cmd.episode
            if ev == EpisodeEvent.QUIT:
                self._quit = True
            if ev in (EpisodeEvent.RERECORD, EpisodeEvent.DISCARD):
                if writer is not None:
                    writer.discard()
                    self._writer = None
                reason = "rerecord" if ev == EpisodeEvent.RERECORD else "discarded"
                return self._outcome(index, False, steps, success, reason, toggles, progress, events)
            if recording and (ev in (EpisodeEvent.END, EpisodeEvent.QUIT) or steps >= limit):
                reason = "time_limit" if steps >= limit and ev == EpisodeEvent.NONE else "operator"
                break
            if not recording and ev == EpisodeEvent.QUIT:
                return self._outcome(index, False, steps, success, "quit", toggles, progress, events)
            self.cell.clock.wait()
        handle = writer.end(success, reason=reason, progress=progress) if writer is not None else None
        self._writer = None
        return self._outcome(index, True, steps, success, reason, toggles, progress, events, handle)

    def _outcome(
        self,
        index: int,
        kept: bool,
        steps: int,
        success: bool | None,
        reason: str,
        toggles: int,
        progress: TaskProgress | None,
        events: dict[str, int],
        handle: Any = None,
    ) -> EpisodeOutcome:
        out = EpisodeOutcome(index, kept, steps, success, reason, toggles, progress, dict(events))
        if handle is not None:  # finalised in the background; run() collects the file path at the end
            self._handles.append((handle, out))
        return out

    # ------------------------------------------------------------------ one step
    def _read_sources(self) -> dict[str, Any]:
        return {
            "arm": self.cell.arm.state(),
            "hand": self.cell.hand.state(),
            "tactile": self.cell.tactile.frame() if self.has_tactile else None,
        }

    def _drive_arm(self, cmd: OperatorCommand, q_meas: np.ndarray) -> tuple[list[str], np.ndarray, int, Any]:
        before = self.wrist.q_cmd.copy(), self.wrist.qd_cmd.copy(), self.wrist.target.copy()
        step = self.wrist.step(cmd, q_meas)
        control = list(step.events)
        try:
            seq = self.cell.arm.servo(step.q_target_rad)
            self._arm_seq, self._arm_target = seq, step.q_target_rad
            return control, step.q_target_rad, seq, None
        except CommandRejected:
            self.wrist.q_cmd, self.wrist.qd_cmd, self.wrist.target = before  # the arm keeps the previous target
            control.append("arm_rejected")
            prev = getattr(self, "_arm_target", before[0])
            return control, prev, getattr(self, "_arm_seq", -1), step.q_target_rad

    def _record(
        self,
        steps: int,
        sample: dict[str, Any],
        cmd: OperatorCommand,
        prev: OperatorCommand,
        hand_step: Any,
        arm_target: np.ndarray,
        arm_seq: int,
        arm_rejected: Any,
        control: list[str],
        progress: TaskProgress | None,
    ) -> Any:
        from dexscrew_sdk.recording import ControlEvent, OperatorEvent, StepRecord

        bits = 0
        for e in control:
            bits |= _CONTROL_BITS[e]
        op = OperatorEvent.NONE
        flags = (
            (hand_step.skill_started, OperatorEvent.SKILL_START),
            (hand_step.skill_stopped, OperatorEvent.SKILL_STOP),
            (cmd.clutch and not prev.clutch, OperatorEvent.CLUTCH_PRESS),
            (prev.clutch and not cmd.clutch, OperatorEvent.CLUTCH_RELEASE),
            (cmd.preset == Preset.GRASP, OperatorEvent.GRASP_PRESET),
            (cmd.preset == Preset.RELEASE, OperatorEvent.RELEASE_PRESET),
            (cmd.mark == Mark.SUCCESS, OperatorEvent.MARK_SUCCESS),
            (cmd.mark == Mark.FAILURE, OperatorEvent.MARK_FAILURE),
            (steps == 0, OperatorEvent.EPISODE_START),
            (cmd.episode in (EpisodeEvent.END, EpisodeEvent.QUIT), OperatorEvent.EPISODE_END),
        )
        for on, flag in flags:
            if on:
                op |= flag
        return StepRecord(
            step_index=steps,
            stamp_ns=time.monotonic_ns(),
            clock_time_s=float(self.cell.clock.now()),
            hand_target_rad=hand_step.target_rad,
            arm_target_rad=arm_target,
            hand_cmd_seq=hand_step.cmd_seq,
            arm_cmd_seq=arm_seq,
            hand_rejected_target_rad=hand_step.rejected_rad,
            arm_rejected_target_rad=arm_rejected,
            arm=sample["arm"],
            hand=sample["hand"],
            tactile=sample["tactile"],
            skill_on=self.hand.skill_on,
            clutch=cmd.clutch,
            speed_scale=cmd.speed_scale,
            control_events=ControlEvent(bits),
            operator_events=op,
            progress=progress,
        )

    def _status_text(
        self,
        index: int,
        steps: int,
        cmd: OperatorCommand,
        control: list[str],
        progress: TaskProgress | None,
        recording: bool,
    ) -> str:
        ik = "FAIL" if "ik_failed" in control else "ok"
        limits = ",".join(sorted({e for e in control if e not in ("ik_failed", "overrun")})) or "-"
        turns = f" turns {progress.turns_done:+.2f}/{progress.turns_required:g}" if progress is not None else ""
        rec = f"REC ep {index} step {steps}" if recording else f"ready ep {index} (start: n)"
        overruns = getattr(self.cell.clock, "overruns", 0)
        return (
            f"{rec} | skill {'ON ' if self.hand.skill_on else 'off'} | clutch {'ON ' if cmd.clutch else 'off'} "
            f"| speed {cmd.speed_scale:.2f} | IK {ik} | limits {limits} | overruns {overruns}{turns}"
        )
