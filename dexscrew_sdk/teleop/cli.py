"""`dexscrew teleop` (drive the cell) and `dexscrew record` (drive it and record demonstrations)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dexscrew_sdk.skills.choice import DEFAULT_SKILL, SKILL_HELP

OPERATORS = ("scripted", "rehearsal", "keyboard", "gamepad", "spacemouse", "quest")
HUMAN = ("keyboard", "gamepad", "spacemouse", "quest")


def _pitch_m(cfg: Any) -> float:
    for spec in cfg.nodes.values():
        if "pitch_m" in spec.params:
            return float(spec.params["pitch_m"])
    return 0.00175  # the M12 thread of the twin's default task


def make_device(name: str, cell: Any, args: argparse.Namespace, period_s: float) -> Any:
    from dexscrew_sdk.teleop import scripted

    if name == "scripted" and "world" not in cell.devices:
        print("this cell has no World: the scripted operator runs the World-free rehearsal script", file=sys.stderr)
        name = "rehearsal"
    if name == "scripted":
        from dexscrew_sdk.teleop.follow import ReadOnlyWorld

        imp = scripted.Imperfections(
            reaction_delay_s=args.reaction_delay_s,
            jitter_m=args.jitter_m,
            follow_lag_s=args.follow_lag_s,
            misalignment_m=args.misalignment_m,
            seed=args.operator_seed,
        )
        # Opening the fingers before a re-grasp frees a jammed nut (measured: docs/teleop.md); a handle
        # would fall, so the screwdriver re-grasps from where the fingers are.
        regrasp = args.regrasp or ("release" if args.task == "nut" else "grasp")
        params = scripted.ScriptParams(regrasp=regrasp, imperfections=imp)
        return scripted.ScriptedOperator(ReadOnlyWorld(cell.world), cell.arm, _pitch_m(cell.config), period_s, params)
    if name == "rehearsal":
        return scripted.RehearsalOperator(period_s, scripted.RehearsalParams(duration_s=min(args.seconds, 6.0)))
    if name == "keyboard":
        from dexscrew_sdk.teleop.devices.keyboard import KeyboardDevice

        return KeyboardDevice()
    if name == "gamepad":
        from dexscrew_sdk.teleop.devices.gamepad import GamepadDevice

        return GamepadDevice()
    from dexscrew_sdk.teleop.devices.combined import WithKeyboard

    if name == "spacemouse":  # two buttons: the episode keys come from the terminal beside it
        from dexscrew_sdk.teleop.devices.spacemouse import SpaceMouseDevice

        return WithKeyboard(SpaceMouseDevice())
    from dexscrew_sdk.teleop.devices.quest import QuestDevice

    quest = QuestDevice(ip_address=args.quest_ip)
    return WithKeyboard(quest) if sys.stdin.isatty() else quest  # a helper at the keyboard may mark episodes


@contextlib.contextmanager
def _cell(args: argparse.Namespace) -> Iterator[Any]:
    from dexscrew_sdk import config as config_mod
    from dexscrew_sdk.cell import Cell
    from dexscrew_sdk.launcher import Launcher
    from dexscrew_sdk.resources import config_path

    path = config_path(args.cell)
    cfg = config_mod.load(path, args.overrides)
    launcher = None if args.attach else Launcher(cfg, path, args.overrides, out=sys.stderr)
    try:
        if launcher is not None:
            launcher.start()
        with Cell.connect(cfg, connect_timeout_s=20.0) as cell:
            yield cell
    finally:
        if launcher is not None:
            launcher.shutdown()


def _meta(cell: Any) -> dict[str, Any]:
    from dexscrew_sdk.recording.schema import config_hash

    cfg = cell.config
    kind = "twin" if "world" in cell.devices else ("hil" if cfg.name == "hil" else "real")
    calib: list[dict[str, Any]] = []
    for dev in ("hand", "tactile"):
        if dev in cell.devices:
            found = cell.devices[dev].info().extra.get("calibration") or {}
            calib += [v for v in found.values() if isinstance(v, dict) and "path" in v and "sha256" in v]
    text = Path(cfg.source).read_text() if cfg.source is not None else cfg.name
    return {"cell": cfg.name, "cell_kind": kind, "cell_config_hash": config_hash(text), "calibration_files": calib}


def source_silence_s(cell: Any) -> float:
    """How long a source may publish nothing before the recorder closes the episode as stopped: 1 s of wall
    time in real time; in lockstep the clock's tick timeout, since a silent node already fails the tick and
    one tick of a contact-heavy scene on a loaded machine took 1.3 s."""
    if not cell.config.lockstep:
        return 1.0
    return max(1.0, float(getattr(cell.clock, "timeout_s", 1.0)))


def build_session(args: argparse.Namespace, cell: Any, skill: Any, skill_identity: dict[str, Any],
                  record: bool) -> tuple[Any, Any, Any]:  # fmt: skip
    """(session, device, recorder or None) for this command line on `cell`."""
    from dexscrew_sdk.evaluation.seeds import RECORDING
    from dexscrew_sdk.teleop.hand_control import HandControl
    from dexscrew_sdk.teleop.session import SessionConfig, TeleopSession
    from dexscrew_sdk.teleop.status import StatusLine
    from dexscrew_sdk.teleop.tool_frame import tool_offset
    from dexscrew_sdk.teleop.wrist import WristController

    period = cell.clock.period_s
    device = make_device(args.operator, cell, args, period)
    scripted_run = device.name in ("scripted", "rehearsal")
    cfg = SessionConfig(
        task=args.task,
        shape=args.shape,
        episodes=args.episodes if record else 1,
        max_episode_s=args.seconds,
        auto_start=scripted_run,
        seeds=[RECORDING.seed(args.seed_index + i) for i in range(args.episodes)] if "world" in cell.devices else [],
        randomisation={"enabled": True} if args.randomised else {},
    )
    recorder = None
    if record:
        from dexscrew_sdk.recording import Recorder

        cfg.meta = {**_meta(cell), "skill": skill_identity}
        recorder = Recorder(args.out or Path("data") / f"{args.task}_{args.shape}", fsync=args.fsync,
                            source_timeout_s=source_silence_s(cell))  # fmt: skip
    wrist = WristController(tool_offset(args.task), period, cell.arm.limits)
    status = StatusLine(sys.stderr if not scripted_run else None)
    session = TeleopSession(cell, device, wrist, HandControl(cell.hand, skill), cfg, recorder, status)
    return session, device, recorder


def run(args: argparse.Namespace, record: bool) -> int:
    from dexscrew_sdk.resources import config_path
    from dexscrew_sdk.skills.choice import load_skill

    config_path(args.cell)  # a bad --cell fails before the skill (and torch) loads
    skill, chosen = load_skill(args.skill, args.task)  # a bad --skill fails before the cell starts
    skill_identity = {**chosen.identity(), "backend": skill.backend}
    with _cell(args) as cell:
        session, device, recorder = build_session(args, cell, skill, skill_identity, record)
        bar = _Progress(session.cfg.episodes, enabled=record)
        try:
            with device:
                outcomes = session.run(progress=bar)
        finally:
            with contextlib.suppress(Exception):
                cell.arm.stop()
            if recorder is not None:
                recorder.close()
            if bar is not None:
                bar.close()
    kept = [o for o in outcomes if o.kept]
    labels = success_labels(kept)
    summary = {
        "verb": "record" if record else "teleop",
        "operator": device.name,
        "episodes_kept": len(kept),
        "attempts": len(outcomes),
        # among the episodes the operator marked; an episode ended by the time limit is unlabelled
        "success_rate": None if not labels["labelled"] else labels["success"] / labels["labelled"],
        "successes": labels["success"],
        "failures": labels["failure"],
        "unlabelled": labels["unlabelled"],
        "steps": sum(o.steps for o in kept),
        "skill": skill_identity,
        "files": [o.path for o in kept if o.path],
    }
    print(json.dumps(summary))
    return 130 if session.interrupted else 0


def success_labels(kept: list[Any]) -> dict[str, int]:
    """How the kept episodes were marked: success, failure, or not at all (the time limit ended them)."""
    ok = [o.success for o in kept]
    success, failure = sum(v is True for v in ok), sum(v is False for v in ok)
    return {"success": success, "failure": failure, "unlabelled": len(ok) - success - failure,
            "labelled": success + failure}  # fmt: skip


class _Progress:
    """Episodes, steps and success rate so far (tqdm when installed, a line per episode otherwise)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.bar = total, None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="episode", file=sys.stderr)
            except ImportError:
                pass
        self.enabled = enabled

    def __call__(self, outcomes: list[Any]) -> None:
        if not self.enabled:
            return
        kept = [o for o in outcomes if o.kept]
        labels = success_labels(kept)
        info = {"steps": sum(o.steps for o in kept), "success": f"{labels['success']}/{len(kept)}"}
        if labels["unlabelled"]:
            info["unlabelled"] = labels["unlabelled"]
        if self.bar is not None:
            self.bar.n = len(kept)
            self.bar.set_postfix(info)
        else:
            print(f"episode {len(kept)}/{self.total}: {info}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cell",
        default="twin_cell",
        help="shipped configuration name (twin_cell, hil_cell, ...) or a file (default twin_cell)",
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--attach", action="store_true", help="use a cell already started with `dexscrew up`")
    p.add_argument("--operator", choices=OPERATORS, default="keyboard", help="input device or scripted operator")
    p.add_argument("--task", choices=["nut", "screwdriver"], default="nut")
    p.add_argument("--shape", default="square", help="nut: square triangular hexagonal cross; handle: octagon ...")
    p.add_argument("--skill", default=DEFAULT_SKILL, metavar="shipped|official|PATH", help=SKILL_HELP)
    p.add_argument("--seconds", type=float, default=60.0, help="longest episode, seconds of the cell's clock")
    p.add_argument("--randomised", action="store_true", help="twins: randomised scenes (default nominal)")
    p.add_argument("--seed-index", type=int, default=0, help="twins: first scene seed index in the recording range")
    p.add_argument("--quest-ip", default=None, help="Quest over Wi-Fi adb (default: USB)")
    g = p.add_argument_group("scripted operator imperfections (stored in each episode)")
    g.add_argument("--operator-seed", type=int, default=0)
    g.add_argument("--regrasp", choices=["grasp", "release", "restart"], default=None,
                   help="stall recovery (default: release for the nut, grasp for the screwdriver)")  # fmt: skip
    g.add_argument("--reaction-delay-s", type=float, default=0.0)
    g.add_argument("--jitter-m", type=float, default=0.0)
    g.add_argument("--follow-lag-s", type=float, default=0.0)
    g.add_argument("--misalignment-m", type=float, default=0.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("teleop", help="drive a cell's wrist and finger skill from an input device (no recording)")
    _add_common(p)
    p.set_defaults(func=lambda a: run(a, record=False), episodes=1)
    p = sub.add_parser("record", help="teleoperate and record demonstrations into a dataset folder")
    _add_common(p)
    p.add_argument("--episodes", type=int, default=1, help="episodes to keep")
    p.add_argument("--out", type=Path, default=None, help="dataset folder (default data/TASK_SHAPE); resumes into it")
    p.add_argument("--fsync", choices=["episode", "step"], default="episode", help="durability policy")
    p.set_defaults(func=lambda a: run(a, record=True))
