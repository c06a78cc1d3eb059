"""A 3Dconnexion SpaceMouse through pyspacemouse (HID; Linux needs libhidapi and a hidraw udev rule).

The puck is a rate device: its six deflections in [-1, 1] scale the tool's
linear and angular speed. It engages (clutch) while deflected beyond the dead
zone; button 0 toggles the skill, button 1 alternates the grasp and release
presets. Episode keys come from the terminal keyboard alongside it.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from dexscrew_sdk.teleop.command import Frame, MotionKind, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import DeviceUnavailable, OperatorDevice, OperatorView

INSTALL_HINT = (
    "the SpaceMouse operator needs pyspacemouse: pip install 'dexscrew-sdk[teleop-devices]' plus the system "
    "hidapi library (Debian/Ubuntu: apt install libhidapi-dev) and a udev rule giving you the hidraw device"
)


class SpaceMouseDevice(OperatorDevice):
    name = "spacemouse"
    kind = MotionKind.TWIST
    frame = Frame.BASE

    def __init__(self, max_linear_m_s: float = 0.05, max_angular_rad_s: float = 0.5, deadzone: float = 0.08) -> None:
        super().__init__()
        self.max_linear_m_s, self.max_angular_rad_s = float(max_linear_m_s), float(max_angular_rad_s)
        self.deadzone = float(deadzone)
        self._lib: Any = None
        self._prev_buttons: list[int] = []
        self._grasped = False

    def connect(self) -> None:
        if self._lib is not None:
            return
        try:
            lib = importlib.import_module("pyspacemouse")
        except ImportError as exc:
            raise DeviceUnavailable(f"{INSTALL_HINT} ({exc})") from None
        if not lib.open():
            raise DeviceUnavailable("SpaceMouse operator: pyspacemouse.open() found no device; is it plugged in?")
        self._lib = lib

    def close(self) -> None:
        if self._lib is not None:
            self._lib.close()
            self._lib = None

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "max_linear_m_s": self.max_linear_m_s,
            "max_angular_rad_s": self.max_angular_rad_s,
            "deadzone": self.deadzone,
        }

    def read(self, view: OperatorView) -> OperatorCommand:
        if self._lib is None:
            raise DeviceUnavailable("SpaceMouse operator: call connect() first")
        s = self._lib.read()
        raw = np.array([s.x, s.y, s.z, s.roll, s.pitch, s.yaw], dtype=float)
        if not np.isfinite(raw).all():
            raw = np.zeros(6)  # a garbled HID report moves nothing
        axes = np.where(np.abs(raw) < self.deadzone, 0.0, np.clip(raw, -1.0, 1.0))
        buttons = [int(b) for b in s.buttons]
        prev = self._prev_buttons + [0] * (len(buttons) - len(self._prev_buttons))
        edge = [b and not p for b, p in zip(buttons, prev, strict=False)]
        self._prev_buttons = buttons
        lv = self.levels
        lv.clutch = bool(np.any(axes != 0.0))
        events: dict[str, Any] = {}
        if len(edge) > 0 and edge[0]:
            lv.skill_on = not lv.skill_on
        if len(edge) > 1 and edge[1]:
            self._grasped = not self._grasped
            events["preset"] = Preset.GRASP if self._grasped else Preset.RELEASE
        motion = np.concatenate([axes[:3] * self.max_linear_m_s, axes[3:] * self.max_angular_rad_s])
        return self.command(motion, **events)
