"""A terminal keyboard in cbreak mode (termios): works over SSH, on Wayland and on a bare console.

A terminal sends characters, never key releases, so keys that a trigger would
hold (clutch, skill) toggle, and each motion key character (autorepeat while a
key is held) is one fixed pose increment. The terminal's settings are restored
on close, also after Ctrl-C.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from typing import Any

import numpy as np

from dexscrew_sdk.teleop.command import EpisodeEvent, Frame, Mark, MotionKind, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import DeviceUnavailable, OperatorDevice, OperatorView

# key -> (axis index 0..5, sign); axes: x y z rx ry rz (base frame, rotation about the tool centre)
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0),
    "s": (0, -1.0),
    "a": (1, 1.0),
    "d": (1, -1.0),
    "r": (2, 1.0),
    "f": (2, -1.0),
    "q": (5, 1.0),
    "e": (5, -1.0),
    "\x1b[A": (0, 1.0),  # arrow keys
    "\x1b[B": (0, -1.0),
    "\x1b[D": (1, 1.0),
    "\x1b[C": (1, -1.0),
}
ACTION_KEYS: dict[str, str] = {
    " ": "toggle clutch",
    "k": "toggle skill",
    "g": "grasp preset",
    "o": "release preset (open)",
    "+": "faster",
    "-": "slower",
    "n": "start episode",
    "\r": "end episode (keep)",
    "\n": "end episode (keep)",
    "b": "re-record episode",
    "x": "discard episode",
    "y": "mark success",
    "u": "mark failure",
    "Q": "quit",
}
HELP = (
    "keys: w/s a/d r/f move x/y/z (arrows too), q/e turn; space clutch, k skill, g grasp, o open, +/- speed, "
    "n start, Enter end, b re-record, x discard, y success, u failure, Q quit"
)


class KeyboardDevice(OperatorDevice):
    name = "keyboard"
    kind = MotionKind.POSE_DELTA
    frame = Frame.BASE

    def __init__(self, fd: int | None = None, step_m: float = 0.001, step_rad: float = 0.01) -> None:
        super().__init__()
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.step_m, self.step_rad = float(step_m), float(step_rad)
        self._saved: list[Any] | None = None
        self._pending = ""

    def connect(self) -> None:
        if self._saved is not None:
            return
        if not os.isatty(self.fd):
            raise DeviceUnavailable(
                "keyboard operator: standard input is not a terminal; run in a terminal (ssh -t for remote shells)"
            )
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)  # characters as typed, no echo; Ctrl-C still raises SIGINT

    def close(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def params(self) -> dict[str, Any]:
        return {**super().params(), "step_m": self.step_m, "step_rad": self.step_rad}

    def _available(self) -> str:
        chunks = []
        while select.select([self.fd], [], [], 0.0)[0]:
            data = os.read(self.fd, 1024)
            if not data:
                break
            chunks.append(data.decode(errors="ignore"))
        return self._pending + "".join(chunks)

    def _keys(self) -> list[str]:
        text, keys, i = self._available(), [], 0
        self._pending = ""
        while i < len(text):
            if text[i] == "\x1b":
                if len(text) - i < 3:  # an escape sequence split across reads: finish it next step
                    self._pending = text[i:]
                    break
                keys.append(text[i : i + 3])
                i += 3
            else:
                keys.append(text[i])
                i += 1
        return keys

    def read(self, view: OperatorView) -> OperatorCommand:
        if self._saved is None:
            raise DeviceUnavailable("keyboard operator: call connect() first")
        motion = np.zeros(6)
        events: dict[str, Any] = {}
        lv = self.levels
        for key in self._keys():
            if key in MOTION_KEYS:
                axis, sign = MOTION_KEYS[key]
                motion[axis] += sign * (self.step_m if axis < 3 else self.step_rad)
            elif key == " ":
                lv.clutch = not lv.clutch
            elif key == "k":
                lv.skill_on = not lv.skill_on
            elif key in ("+", "="):
                lv.nudge_speed(1.25)
            elif key == "-":
                lv.nudge_speed(0.8)
            elif key in _EVENT_KEYS:
                name, value = _EVENT_KEYS[key]
                events[name] = value
        return self.command(motion, **events)


_EVENT_KEYS: dict[str, tuple[str, Any]] = {
    "g": ("preset", Preset.GRASP),
    "o": ("preset", Preset.RELEASE),
    "n": ("episode", EpisodeEvent.START),
    "\r": ("episode", EpisodeEvent.END),
    "\n": ("episode", EpisodeEvent.END),
    "b": ("episode", EpisodeEvent.RERECORD),
    "x": ("episode", EpisodeEvent.DISCARD),
    "Q": ("episode", EpisodeEvent.QUIT),
    "y": ("mark", Mark.SUCCESS),
    "u": ("mark", Mark.FAILURE),
}
