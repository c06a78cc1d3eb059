"""pygame.joystick: init/quit/get_count and Joystick(index) with get_axis/get_button/get_hat (SDL layout)."""

from __future__ import annotations

from dataclasses import dataclass, field

pads: list[Pad] = []  # what the test "plugs in"
_initialised = False


@dataclass
class Pad:
    name: str = "Xbox Wireless Controller"
    axes: list[float] = field(default_factory=lambda: [0.0] * 6)
    buttons: list[int] = field(default_factory=lambda: [0] * 11)
    hats: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])


def init() -> None:
    global _initialised
    _initialised = True


def quit() -> None:
    global _initialised
    _initialised = False


def get_count() -> int:
    if not _initialised:
        raise RuntimeError("joystick module not initialized")  # pygame.error in the real library
    return len(pads)


class Joystick:
    def __init__(self, index: int) -> None:
        if not 0 <= index < len(pads):
            raise RuntimeError("Invalid joystick device number")
        self._pad = pads[index]
        self._init = False

    def init(self) -> None:
        self._init = True

    def quit(self) -> None:
        self._init = False

    def get_name(self) -> str:
        return self._pad.name

    def get_numaxes(self) -> int:
        return len(self._pad.axes)

    def get_numbuttons(self) -> int:
        return len(self._pad.buttons)

    def get_numhats(self) -> int:
        return len(self._pad.hats)

    def get_axis(self, i: int) -> float:
        return self._pad.axes[i]

    def get_button(self, i: int) -> int:
        return self._pad.buttons[i]

    def get_hat(self, i: int) -> tuple[int, int]:
        return self._pad.hats[i]
