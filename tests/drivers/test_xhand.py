"""The XHand driver against a fake of the vendor SDK's documented API (tests/drivers/fake_xhand)."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dexscrew_sdk import joints
from dexscrew_sdk.config import make_hosted
from dexscrew_sdk.errors import CommandRejected, ConfigError, DeviceNotConnected, DeviceTimeoutError
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.records import DeviceMode
from drivers.xhand import XHandSDKError

MID = (joints.XHAND_LOWER_RAD + joints.XHAND_UPPER_RAD) / 2


def fresh_frame(tactile, timeout_s: float = 1.0) -> np.ndarray:
    """A frame read after the shared state cache (one SDK read per period) has expired."""
    start = tactile.conn._state_time
    deadline = time.monotonic() + timeout_s
    while tactile.conn._state_time == start:
        assert time.monotonic() < deadline, "the driver never re-read the SDK state"
        frame = tactile.frame().force_n
    return frame


def node(**params):
    """Hand and tactile devices on the fake SDK. Calls get 1 s unless a test sets timeout_s: the driver's
    50 ms default is for real hardware, and a loaded test machine can stall a fake call that long."""
    params = {"timeout_s": 1.0, **params}
    hosted = make_hosted("xhand", params, NodeContext("hand", ("hand", "tactile"), False, 20.0))
    return hosted.devices["hand"], hosted.devices["tactile"]


def test_missing_sdk_says_how_to_install_the_vendor_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xhand_controller", None)
    hand, _ = node()
    with pytest.raises(DeviceNotConnected, match=r"vendor SDK .*not on PyPI.*3\.10 or 3\.12"):
        hand.connect()


def test_rs485_command_carries_gains_mode_and_position(fake_xhand) -> None:
    hand, tactile = node(kp=[120] * 12, kd=2, tor_max=150, port="/dev/ttyUSB0")
    with hand, tactile:
        assert fake_xhand.FAKE.opened == "rs485:/dev/ttyUSB0@3000000"
        hand.command(MID)
        sent = fake_xhand.FAKE.commands[-1].finger_command
        assert [fc.id for fc in sent] == list(range(12))
        assert {(fc.kp, fc.ki, fc.kd, fc.tor_max, fc.mode) for fc in sent} == {(120, 0, 2, 150, 3)}
        np.testing.assert_allclose([fc.position for fc in sent], MID)
        s = hand.state()
        np.testing.assert_allclose(s.q_rad, MID)
        assert s.mode == DeviceMode.SERVOING and s.cmd_seq >= 0
        hand.command(MID, kp=np.full(12, 50.0))
        assert fake_xhand.FAKE.commands[-1].finger_command[0].kp == 50
    assert fake_xhand.FAKE.opened == ""  # closed once both devices released the shared session


def test_ethercat_and_a_wrong_port(fake_xhand) -> None:
    hand, _ = node(transport="ethercat", ifname="enp3s0")
    hand.connect()
    assert fake_xhand.FAKE.opened == "ethercat:enp3s0"
    hand.close()
    hand, _ = node(port="/dev/ttyUSB7")
    with pytest.raises(DeviceNotConnected, match=r"ttyUSB7.*ttyUSB0"):
        hand.connect()


def test_tactile_frames_and_zero_offsets(fake_xhand, tmp_path: Path) -> None:
    fake_xhand.FAKE.taxel_bias_n = 0.2
    fake_xhand.FAKE.press_n[1] = 1.5
    _, tactile = node(zero_tactile_frames=3)
    with tactile:
        f = tactile.frame().force_n
        assert f.shape == (5, 120, 3) and f.dtype == np.float32
        np.testing.assert_allclose(f, 0.0, atol=1e-6)  # bias and the press at connect are the zero
        fake_xhand.FAKE.press_n[1] = 2.5
        f = fresh_frame(tactile)
        assert f[1, 0, 2] == pytest.approx(1.0) and np.abs(np.delete(f.reshape(-1), 1 * 360 + 2)).max() < 1e-6
    zero = np.full(joints.TACTILE_SHAPE, 0.2)
    path = tmp_path / "tactile_zero.json"
    path.write_text(json.dumps({"tactile_zero_n": zero.tolist()}))
    _, tactile = node(tactile_zero_file=str(path))
    with tactile:
        assert fresh_frame(tactile)[1, 0, 2] == pytest.approx(2.5)


def test_joint_offsets_apply_both_ways(fake_xhand, tmp_path: Path) -> None:
    offsets = np.linspace(-0.02, 0.02, 12)
    path = tmp_path / "offsets.json"
    path.write_text(json.dumps({"joint_offsets_rad": offsets.tolist()}))
    hand, _ = node(joint_offsets_file=str(path))
    with hand:
        hand.command(MID)
        np.testing.assert_allclose([fc.position for fc in fake_xhand.FAKE.commands[-1].finger_command], MID - offsets)
        np.testing.assert_allclose(hand.state().q_rad, MID)
    path.write_text(json.dumps({"joint_offsets_rad": [0.0] * 11}))
    with pytest.raises(ConfigError, match="joint_offsets_rad"):
        node(joint_offsets_file=str(path))


def test_sdk_error_codes_and_a_silent_device(fake_xhand) -> None:
    hand, tactile = node(timeout_s=0.5)
    with hand, tactile:
        fake_xhand.FAKE.fail_next["send_command"] = (5, "joint 3 over temperature")
        with pytest.raises(XHandSDKError, match="SDK error 5: joint 3 over temperature") as info:
            hand.command(MID)
        assert info.value.code == 5
        fake_xhand.FAKE.unresponsive = True
        with pytest.raises(DeviceTimeoutError, match="no answer"):
            tactile.conn.read(fresh=True)
        with pytest.raises(DeviceTimeoutError):
            hand.command(MID)
        fake_xhand.FAKE.unresponsive = False
        hand.command(MID)  # recovers once the hand answers again


def test_a_slow_answer_counts_as_a_timeout(fake_xhand) -> None:
    hand, _ = node(timeout_s=0.01)
    with hand:
        original = fake_xhand.XHandControl.read_state

        def slow(self, hand_id, force_update):  # answers, but after the deadline
            time.sleep(0.03)
            return original(self, hand_id, force_update)

        fake_xhand.XHandControl.read_state = slow
        try:
            with pytest.raises(DeviceTimeoutError):
                hand.conn.read(fresh=True)
        finally:
            fake_xhand.XHandControl.read_state = original


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 11), value=st.sampled_from([math.nan, math.inf, -math.inf, 3.0, -1.0, 1e6]))
def test_bad_targets_never_reach_the_sdk(fake_xhand, index: int, value: float) -> None:
    hand, _ = node()
    with hand:
        before = len(fake_xhand.FAKE.commands)
        q = MID.copy()
        q[index] = value
        with pytest.raises(CommandRejected):
            hand.command(q)
        with pytest.raises(CommandRejected):
            hand.command(MID, kp=np.full(12, value if not np.isfinite(value) else -1.0))
        assert len(fake_xhand.FAKE.commands) == before


@pytest.mark.parametrize(
    "params, match",
    [
        ({"transport": "usb"}, "transport"),
        ({"mode": "turbo"}, "mode"),
        ({"kp": -1}, "kp"),
        ({"tor_max": [1] * 5}, "tor_max"),
        ({"prot": "/dev/ttyUSB0"}, "unknown"),
        ({"devices": ["arm"]}, "unknown"),  # framework keys are not factory parameters
        ({"limits": {}}, r"unknown key \['limits'\].*hand_limits"),  # one spelling for limits
    ],
)
def test_bad_configuration(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_hosted("xhand", params, NodeContext("hand", ("hand", "tactile"), False, 20.0))


def test_an_xhand_node_serves_only_hand_and_tactile() -> None:
    with pytest.raises(ConfigError, match="serves"):
        make_hosted("xhand", {}, NodeContext("hand", ("arm",), False, 20.0))


def test_stop_holds_the_measured_position(fake_xhand) -> None:
    hand, _ = node()
    with hand:
        hand.command(MID)
        hand.stop()
        assert hand.state().mode == DeviceMode.STOPPED
        np.testing.assert_allclose([fc.position for fc in fake_xhand.FAKE.commands[-1].finger_command], MID)


def test_a_non_identity_sdk_order_is_mapped_both_ways(fake_xhand, monkeypatch: pytest.MonkeyPatch) -> None:
    """The XHand's SDK order equals the canonical one today; a firmware with another order must only need
    joints.HAND_SDK_TO_CANONICAL changed. Positions, gains and per-joint limits follow the permutation."""
    import drivers.xhand as xhand

    perm = np.array([11, 0, 10, 1, 9, 2, 8, 3, 7, 4, 6, 5])  # [sdk_index] -> canonical_index
    monkeypatch.setattr(xhand, "SDK_TO_CANON", perm)
    kp = np.arange(100, 112)  # canonical order: kp of canonical joint j is 100 + j
    tor_max = np.arange(200, 212)
    hand, tactile = node(kp=kp.tolist(), tor_max=tor_max.tolist())
    q = MID + 0.01 * np.arange(12)  # canonical, all different
    with hand, tactile:
        hand.command(q)
        sent = fake_xhand.FAKE.commands[-1].finger_command
        np.testing.assert_allclose([fc.position for fc in sent], q[perm])
        assert [fc.kp for fc in sent] == (100 + perm).tolist()
        assert [fc.tor_max for fc in sent] == (200 + perm).tolist()
        np.testing.assert_allclose(hand.state().q_rad, q)  # the fake reports SDK order; the driver maps back
