"""A gamepad through pygame's joystick module (SDL: Xbox-style layout on Linux, macOS and Windows).

Hold the right bumper to clutch; the left stick moves the tool in x/y, the
right stick up/down and turns it about the vertical. Buttons are read on their
press edge. pygame needs no window for joysticks, but SDL must see the device:
locally attached (or forwarded), not over a plain SSH session.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np

from dexscrew_sdk.teleop.command import EpisodeEvent, Frame, Mark, MotionKind, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import DeviceUnavailable, OperatorDevice, OperatorView

INSTALL_HINT = "the gamepad operator needs pygame: pip install 'dexscrew-sdk[teleop-devices]' (or pip install pygame)"
# SDL's mapping of an Xbox-style pad
AXIS_LX, AXIS_LY, AXIS_RX, AXIS_RY = 0, 1, 3, 4
BUTTON_A, BUTTON_B, BUTTON_X, BUTTON_Y, BUTTON_LB, BUTTON_RB, BUTTON_BACK, BUTTON_START = range(8)
BUTTON_EVENTS: dict[int, tuple[str, Any]] = {
    BUTTON_X: ("preset", Preset.GRASP),
    BUTTON_Y: ("preset", Preset.RELEASE),
    BUTTON_BACK: ("episode", EpisodeEvent.RERECORD),
}


class GamepadDevice(OperatorDevice):
    name = "gamepad"
    kind = MotionKind.TWIST
    frame = Frame.BASE

    def __init__(
        self, index: int = 0, max_linear_m_s: float = 0.05, max_angular_rad_s: float = 0.5, deadzone: float = 0.1
    ) -> None:
        super().__init__()
        self.index, self.deadzone = int(index), float(deadzone)
        self.max_linear_m_s, self.max_angular_rad_s = float(max_linear_m_s), float(max_angular_rad_s)
        self._pg: Any = None
        self._joy: Any = None
        self._prev: list[bool] = []
        self._prev_hat = (0, 0)
        self._recording = False

    def connect(self) -> None:
        if self._joy is not None:
            return
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            pg = importlib.import_module("pygame")
        except ImportError as exc:
            raise DeviceUnavailable(f"{INSTALL_HINT} ({exc})") from None
        pg.init()
        pg.joystick.init()
        count = pg.joystick.get_count()
        if self.index >= count:
            raise DeviceUnavailable(
                f"gamepad operator: no joystick {self.index} (pygame sees {count}); plug the pad in locally"
            )
        joy = pg.joystick.Joystick(self.index)
        joy.init()
        if joy.get_numaxes() <= AXIS_RY or joy.get_numbuttons() <= BUTTON_START:
            raise DeviceUnavailable(
                f"gamepad {joy.get_name()!r} has {joy.get_numaxes()} axes and {joy.get_numbuttons()} buttons; "
                "an Xbox-style pad (5+ axes, 8+ buttons) is needed"
            )
        self._pg, self._joy = pg, joy
        self._prev = [False] * joy.get_numbuttons()

    def close(self) -> None:
        if self._joy is not None:
            self._joy.quit()
            self._pg.joystick.quit()
            self._joy = self._pg = None

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "name": self._joy.get_name() if self._joy is not None else None,
            "max_linear_m_s": self.max_linear_m_s,
            "max_angular_rad_s": self.max_angular_rad_s,
            "deadzone": self.deadzone,
        }

    def _axis(self, i: int) -> float:
        v = float(self._joy.get_axis(i))
        return 0.0 if abs(v) < self.deadzone else float(np.clip(v, -1.0, 1.0))

    def read(self, view: OperatorView) -> OperatorCommand:
        if self._joy is None:
            raise DeviceUnavailable("gamepad operator: call connect() first")
        self._pg.event.pump()  # SDL updates joystick state only while events are pumped
        j, lv = self._joy, self.levels
        pressed = [bool(j.get_button(i)) for i in range(len(self._prev))]
        edge = [p and not q for p, q in zip(pressed, self._prev, strict=True)]
        self._prev = pressed
        lv.clutch = pressed[BUTTON_RB]  # a pad reports releases: the clutch is held, not toggled
        if edge[BUTTON_A]:
            lv.skill_on = True
        if edge[BUTTON_B]:
            lv.skill_on = False
        if edge[BUTTON_LB]:
            lv.nudge_speed(0.5 if lv.speed_scale >= 1.0 else 2.0)  # toggles between slow and fast
        events: dict[str, Any] = {name: value for b, (name, value) in BUTTON_EVENTS.items() if edge[b]}
        if edge[BUTTON_START]:
            events["episode"] = EpisodeEvent.END if self._recording else EpisodeEvent.START
            self._recording = not self._recording
        hat = tuple(j.get_hat(0)) if j.get_numhats() > 0 else (0, 0)
        if hat != self._prev_hat and hat[1] != 0:
            events["mark"] = Mark.SUCCESS if hat[1] > 0 else Mark.FAILURE
        self._prev_hat = hat
        lin, ang = self.max_linear_m_s, self.max_angular_rad_s
        motion = np.array(
            [
                -self._axis(AXIS_LY) * lin,
                -self._axis(AXIS_LX) * lin,
                -self._axis(AXIS_RY) * lin,
                0.0,
                0.0,
                -self._axis(AXIS_RX) * ang,
            ]
        )
        return self.command(motion, **events)
