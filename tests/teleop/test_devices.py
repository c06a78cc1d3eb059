"""Input device adapters against fakes of their libraries' documented APIs; the keyboard through a real pty."""

from __future__ import annotations

import importlib
import os
import pty
import sys
import termios

import numpy as np
import pytest

from dexscrew_sdk.teleop.command import EpisodeEvent, Mark, MotionKind, Preset
from dexscrew_sdk.teleop.devices.base import DeviceUnavailable, OperatorView
from dexscrew_sdk.teleop.devices.gamepad import BUTTON_A, BUTTON_RB, BUTTON_START, GamepadDevice
from dexscrew_sdk.teleop.devices.keyboard import KeyboardDevice
from dexscrew_sdk.teleop.devices.quest import QuestDevice
from dexscrew_sdk.teleop.devices.spacemouse import SpaceMouseDevice
from tests.conftest import wait_until
from tests.teleop.conftest import FAKES

VIEW = OperatorView()


@pytest.fixture
def fake_libs(monkeypatch: pytest.MonkeyPatch):
    """The fakes first on sys.path; each test imports them fresh."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in list(sys.modules):
        if name.split(".")[0] in ("pygame", "pyspacemouse", "oculus_reader"):
            monkeypatch.delitem(sys.modules, name)
    yield
    for name in list(sys.modules):
        if name.split(".")[0] in ("pygame", "pyspacemouse", "oculus_reader"):
            del sys.modules[name]


# ---------------------------------------------------------------- keyboard (real pty)
def test_keyboard_over_a_pty_is_cbreak_and_turns_keys_into_commands() -> None:
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        kb = KeyboardDevice(fd=slave, step_m=0.001)
        kb.connect()
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # characters arrive as typed
        assert kb.kind == MotionKind.POSE_DELTA
        os.write(master, b" ww\x1b[Dk")  # clutch on, two steps +x, one arrow-left (+y), skill on
        cmd = _read_until(kb, lambda c: c.skill_on)
        assert cmd.clutch and cmd.skill_on
        np.testing.assert_allclose(cmd.motion[:3], [0.002, 0.001, 0.0])
        os.write(master, b"g")
        assert _read_until(kb, lambda c: c.preset != Preset.NONE).preset == Preset.GRASP
        os.write(master, b"y")
        assert _read_until(kb, lambda c: c.mark != Mark.NONE).mark == Mark.SUCCESS
        os.write(master, b"k\r")  # no key releases in a terminal: skill and clutch are toggles
        cmd = _read_until(kb, lambda c: c.episode != EpisodeEvent.NONE)
        assert cmd.episode == EpisodeEvent.END and not cmd.skill_on and cmd.clutch
        os.write(master, b"\x1b")  # an escape sequence split across reads is completed on the next one
        assert not kb.read(VIEW).motion.any()
        os.write(master, b"[A")
        assert _read_until(kb, lambda c: c.motion.any()).motion[0] == pytest.approx(0.001)
        kb.close()
        assert termios.tcgetattr(slave) == before  # the terminal is given back as it was
    finally:
        os.close(master)
        os.close(slave)


def _read_until(kb, done, timeout_s: float = 5.0):
    """Read commands until one satisfies `done` (the pty delivers written bytes asynchronously)."""
    found = []
    wait_until(lambda: found.append(kb.read(VIEW)) or done(found[-1]), timeout_s, "the keyboard command")
    return found[-1]


def test_keyboard_refuses_a_non_terminal_with_a_reason(tmp_path) -> None:
    with open(tmp_path / "f", "w") as f, pytest.raises(DeviceUnavailable, match="not a terminal"):
        KeyboardDevice(fd=f.fileno()).connect()


# ---------------------------------------------------------------- gamepad (pygame fake)
def test_gamepad_holds_clutch_on_the_bumper_and_reads_button_edges(fake_libs) -> None:
    joystick = importlib.import_module("pygame.joystick")
    pad = joystick.Pad()
    joystick.pads[:] = [pad]
    dev = GamepadDevice(max_linear_m_s=0.05, deadzone=0.1)
    dev.connect()
    pad.axes[1] = -1.0  # left stick forward
    pad.axes[0] = 0.05  # inside the dead zone
    cmd = dev.read(VIEW)
    assert not cmd.clutch and cmd.motion[0] == pytest.approx(0.05) and cmd.motion[1] == 0.0
    pad.buttons[BUTTON_RB] = 1
    pad.buttons[BUTTON_A] = 1
    pad.buttons[BUTTON_START] = 1
    cmd = dev.read(VIEW)
    assert cmd.clutch and cmd.skill_on and cmd.episode == EpisodeEvent.START and cmd.moving
    cmd = dev.read(VIEW)  # still held: no second START
    assert cmd.episode == EpisodeEvent.NONE and cmd.skill_on
    pad.buttons[BUTTON_RB] = 0
    pad.hats[0] = (0, 1)
    cmd = dev.read(VIEW)
    assert not cmd.clutch and cmd.mark == Mark.SUCCESS
    assert importlib.import_module("pygame.event").pumps == 4
    dev.close()


def test_gamepad_without_a_pad_says_so(fake_libs) -> None:
    importlib.import_module("pygame.joystick").pads[:] = []
    with pytest.raises(DeviceUnavailable, match="no joystick 0"):
        GamepadDevice().connect()


def test_gamepad_without_pygame_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygame", None)
    with pytest.raises(DeviceUnavailable, match=r"teleop-devices"):
        GamepadDevice().connect()


# ---------------------------------------------------------------- SpaceMouse (pyspacemouse fake)
def test_spacemouse_deflection_is_a_clutched_twist_and_buttons_toggle(fake_libs) -> None:
    lib = importlib.import_module("pyspacemouse")
    lib.state = lib.SpaceNavigator()
    dev = SpaceMouseDevice(max_linear_m_s=0.05, max_angular_rad_s=0.5, deadzone=0.08)
    dev.connect()
    cmd = dev.read(VIEW)
    assert not cmd.clutch and not cmd.motion.any()
    lib.state.z, lib.state.yaw, lib.state.x = -0.5, 1.0, 0.05
    cmd = dev.read(VIEW)
    assert cmd.kind == MotionKind.TWIST and cmd.clutch
    np.testing.assert_allclose(cmd.motion, [0.0, 0.0, -0.025, 0.0, 0.0, 0.5])
    lib.state.buttons = [1, 1]
    cmd = dev.read(VIEW)
    assert cmd.skill_on and cmd.preset == Preset.GRASP
    presets = []
    for buttons in ([0, 0], [0, 1], [0, 0], [0, 1]):
        lib.state.buttons = buttons
        presets.append(dev.read(VIEW).preset)
    assert presets == [Preset.NONE, Preset.RELEASE, Preset.NONE, Preset.GRASP]  # button 1 alternates
    assert dev.read(VIEW).skill_on  # button 0 held: no second toggle
    lib.state.x = float("nan")
    assert not dev.read(VIEW).motion.any()  # a garbled report moves nothing
    dev.close()


def test_spacemouse_not_plugged_in(fake_libs) -> None:
    importlib.import_module("pyspacemouse").plugged_in = False
    with pytest.raises(DeviceUnavailable, match="found no device"):
        SpaceMouseDevice().connect()


# ---------------------------------------------------------------- Quest (oculus_reader fake)
def _pose(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = [x, y, z]
    return t


def test_quest_uses_the_authors_mapping(fake_libs) -> None:
    reader = importlib.import_module("oculus_reader.reader")
    trig_on, trig_off = {"leftTrig": (0.9,)}, {"leftTrig": (0.1,)}
    reader.frames[:] = [
        ({"l": _pose()}, trig_off),
        ({"l": _pose()}, trig_on),  # press: latch only
        ({"l": _pose(y=0.01)}, trig_on),  # 1 cm up in the headset -> 2 cm up (x 2) in the base frame
        ({"l": _pose(y=0.01)}, {**trig_off, "A": True}),  # A: 1 mm down, a deliberate step
        ({"l": _pose()}, {**trig_off, "X": True}),
        ({"l": _pose()}, {**trig_off, "Y": True}),
    ]
    dev = QuestDevice()
    dev.connect()
    assert not dev.read(VIEW).clutch and dev.read(VIEW).clutch
    cmd = dev.read(VIEW)
    assert cmd.kind == MotionKind.POSE_DELTA and cmd.clutch
    np.testing.assert_allclose(cmd.motion[:3], [0.0, 0.0, 0.02], atol=1e-12)
    cmd = dev.read(VIEW)
    np.testing.assert_allclose(cmd.motion[:3], [0.0, 0.0, -0.001])
    assert cmd.clutch
    assert dev.read(VIEW).skill_on
    assert not dev.read(VIEW).skill_on
    assert not dev.read(VIEW).clutch  # empty dicts until the headset reports: nothing moves
    dev.close()
    assert reader.instances[-1].stopped


def test_quest_without_oculus_reader_names_git_lfs_and_adb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "oculus_reader", None)
    with pytest.raises(DeviceUnavailable) as err:
        QuestDevice().connect()
    for step in ("git clone", "git lfs", "adb"):
        assert step in str(err.value)


def test_a_spacemouse_with_the_keyboard_beside_it_takes_episode_keys_from_the_terminal(fake_libs) -> None:
    from dexscrew_sdk.teleop.devices.combined import WithKeyboard

    lib = importlib.import_module("pyspacemouse")
    lib.state = lib.SpaceNavigator(z=0.5)
    master, slave = pty.openpty()
    try:
        dev = WithKeyboard(SpaceMouseDevice(), KeyboardDevice(fd=slave))
        dev.connect()
        os.write(master, b"nw")  # start an episode; the keyboard's motion keys do not move the wrist
        cmd = _read_until(dev, lambda c: c.episode != EpisodeEvent.NONE)
        assert cmd.episode == EpisodeEvent.START and cmd.clutch
        np.testing.assert_allclose(cmd.motion, [0, 0, 0.025, 0, 0, 0])  # the SpaceMouse's motion only
        assert dev.params()["device"] == "spacemouse+keyboard"
        dev.close()
    finally:
        os.close(master)
        os.close(slave)
