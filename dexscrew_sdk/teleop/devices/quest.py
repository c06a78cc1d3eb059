"""A Meta Quest controller through oculus_reader (adb logcat from the headset's app).

The authors' mapping: hold the left trigger to clutch (the controller's pose is
latched on press and the wrist follows its motion from there, translation
x 2); A and B step the wrist 1 mm down and up; X starts and Y stops the finger
skill; the left stick press is the grasp preset and the left grip the release
preset. The right stick press starts and ends an episode, the right grip marks
success. Poses are 4 x 4 in the headset's frame (y up, z towards the user);
`QUEST_TO_BASE` turns them into the arm base frame.
oculus_reader is not on PyPI and is imported only when the device connects.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from dexscrew_sdk import kinematics
from dexscrew_sdk.teleop.command import EpisodeEvent, Frame, Mark, MotionKind, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import DeviceUnavailable, OperatorDevice, OperatorView

INSTALL_HINT = (
    "the Quest operator needs oculus_reader, which is not on PyPI: "
    "git clone https://github.com/rail-berkeley/oculus_reader && cd oculus_reader && "
    "git lfs install && git lfs pull (the headset APK is stored in Git LFS) && pip install -e . ; "
    "then apt install android-tools-adb, enable developer mode on the headset and accept it in `adb devices`"
)
# headset axes (x right, y up, z back) -> arm base (x forward, y left, z up), operator facing the robot's +x
QUEST_TO_BASE = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
TRIGGER_ON = 0.5


class QuestDevice(OperatorDevice):
    name = "quest"
    kind = MotionKind.POSE_DELTA
    frame = Frame.BASE

    def __init__(
        self,
        ip_address: str | None = None,
        port: int = 5555,
        translation_scale: float = 2.0,
        nudge_m: float = 0.001,
        controller: str = "l",
        quest_to_base: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        if controller not in ("l", "r"):
            raise ValueError(f"Quest controller must be 'l' or 'r', got {controller!r}")
        self.ip_address, self.port = ip_address, int(port)
        self.translation_scale, self.nudge_m, self.controller = float(translation_scale), float(nudge_m), controller
        self.m = QUEST_TO_BASE if quest_to_base is None else np.asarray(quest_to_base, dtype=float)
        self._reader: Any = None
        self._latched: np.ndarray | None = None
        self._prev: dict[str, bool] = {}
        self._recording = False

    def connect(self) -> None:
        if self._reader is not None:
            return
        try:
            module = importlib.import_module("oculus_reader.reader")
        except ImportError as exc:
            raise DeviceUnavailable(f"{INSTALL_HINT} ({exc})") from None
        self._reader = module.OculusReader(ip_address=self.ip_address, port=self.port)

    def close(self) -> None:
        if self._reader is not None:
            stop = getattr(self._reader, "stop", None)
            if stop is not None:
                stop()
            self._reader = None

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "translation_scale": self.translation_scale,
            "nudge_m": self.nudge_m,
            "controller": self.controller,
            "quest_to_base": self.m.tolist(),
        }

    def _edge(self, buttons: dict[str, Any], name: str) -> bool:
        now = bool(buttons.get(name, False))
        was = self._prev.get(name, False)
        self._prev[name] = now
        return now and not was

    def read(self, view: OperatorView) -> OperatorCommand:
        if self._reader is None:
            raise DeviceUnavailable("Quest operator: call connect() first")
        poses, buttons = self._reader.get_transformations_and_buttons()
        lv, events = self.levels, {}
        if self._edge(buttons, "X"):
            lv.skill_on = True
        if self._edge(buttons, "Y"):
            lv.skill_on = False
        if self._edge(buttons, "LJ"):
            events["preset"] = Preset.GRASP
        if self._edge(buttons, "LG"):
            events["preset"] = Preset.RELEASE
        if self._edge(buttons, "RJ"):
            events["episode"] = EpisodeEvent.END if self._recording else EpisodeEvent.START
            self._recording = not self._recording
        if self._edge(buttons, "RG"):
            events["mark"] = Mark.SUCCESS
        motion = np.zeros(6)
        pose = poses.get(self.controller)  # {} until the headset's first report arrives
        trigger = buttons.get("leftTrig" if self.controller == "l" else "rightTrig", (0.0,))
        held = pose is not None and float(trigger[0]) > TRIGGER_ON
        if held:
            pose = np.asarray(pose, dtype=float)
            if self._latched is not None:  # the first held step only latches
                motion[:3] = self.translation_scale * (self.m @ (pose[:3, 3] - self._latched[:3, 3]))
                rel = pose[:3, :3] @ self._latched[:3, :3].T
                motion[3:] = kinematics.matrix_to_rotvec(self.m @ rel @ self.m.T)
            self._latched = pose
        else:
            self._latched = None
        nudge = float(buttons.get("B", False)) - float(buttons.get("A", False))  # B up, A down, every step held
        motion[2] += nudge * self.nudge_m
        lv.clutch = held or nudge != 0.0  # a nudge is a deliberate step; it adds to the clutch motion
        return self.command(motion, **events)
