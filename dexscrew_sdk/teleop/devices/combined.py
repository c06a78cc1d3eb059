"""A motion device with the terminal keyboard beside it for episode keys (a SpaceMouse has two buttons)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dexscrew_sdk.teleop.command import EpisodeEvent, Mark, OperatorCommand, Preset
from dexscrew_sdk.teleop.devices.base import OperatorDevice, OperatorView
from dexscrew_sdk.teleop.devices.keyboard import KeyboardDevice


def merge_events(cmd: OperatorCommand, other: OperatorCommand) -> OperatorCommand:
    """`cmd` with the one-shot events (episode, mark, preset) of a second device where `cmd` has none."""
    return replace(
        cmd,
        episode=cmd.episode if cmd.episode != EpisodeEvent.NONE else other.episode,
        mark=cmd.mark if cmd.mark != Mark.NONE else other.mark,
        preset=cmd.preset if cmd.preset != Preset.NONE else other.preset,
    )


class WithKeyboard(OperatorDevice):
    """Motion, clutch and skill from `primary`; episode keys, marks and presets also from the keyboard."""

    def __init__(self, primary: OperatorDevice, keyboard: KeyboardDevice | None = None) -> None:
        super().__init__()
        self.primary, self.keyboard = primary, keyboard or KeyboardDevice()
        self.name, self.kind, self.frame = f"{primary.name}+keyboard", primary.kind, primary.frame

    def connect(self) -> None:
        self.primary.connect()
        self.keyboard.connect()

    def close(self) -> None:
        self.keyboard.close()
        self.primary.close()

    def params(self) -> dict[str, Any]:
        return {**self.primary.params(), "device": self.name, "keyboard": self.keyboard.params()}

    def read(self, view: OperatorView) -> OperatorCommand:
        return merge_events(self.primary.read(view), self.keyboard.read(view))
