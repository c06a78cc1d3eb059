"""The UR5e driver with the real ur_rtde client against the loopback controller emulator."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.clock import RealTimeClock
from dexscrew_sdk.errors import DeviceTimeoutError, ProtectiveStopError
from dexscrew_sdk.records import DeviceMode
from drivers.ur5e import HardwareEmergencyStopError, UR5eArm, UR5eConfig

pytestmark = pytest.mark.integration
HOME = joints.UR5E_HOME_RAD


def wait_for(cond, timeout_s: float = 3.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def arm(emulator) -> Iterator[UR5eArm]:
    a = UR5eArm(UR5eConfig(host="127.0.0.1", lookahead_s=0.05, gain=500))
    a.connect()
    yield a
    a.close()


def test_connects_and_reports_state(arm: UR5eArm) -> None:
    s = arm.state()
    assert s.q_rad.shape == (6,) and np.isfinite(s.q_rad).all()
    assert s.mode in (DeviceMode.IDLE, DeviceMode.STOPPED)
    np.testing.assert_allclose(s.tcp_pose, kinematics.forward(s.q_rad), atol=1e-6)
    assert arm.info().model == "ur5e"


def test_movej_home_then_servo_stream_at_500hz_is_followed(arm: UR5eArm) -> None:
    arm.move_to(HOME, speed_rad_s=2.0)
    np.testing.assert_allclose(arm.state().q_rad, HOME, atol=2e-3)
    clock = RealTimeClock(0.002)
    n = 400
    for i in range(n):
        target = HOME + 0.15 * np.sin(np.pi * i / n)  # half a sine: ends where it started
        arm.servo(target)
        if i == n // 2:
            mid = arm.state()
        clock.wait()
    assert mid.mode == DeviceMode.SERVOING
    assert np.max(np.abs(mid.q_rad - HOME)) > 0.1, "the arm did not follow the stream"
    wait_for(lambda: np.max(np.abs(arm.state().q_rad - target)) < 1e-3, what="arm to settle on the last target")
    assert clock.stats().periods == n  # the stream's rate is measured by `dexscrew bench ur5e`, not here


def test_protective_stop_raises_and_unlocks(arm: UR5eArm) -> None:
    arm.servo(HOME)
    arm._control.triggerProtectiveStop()  # what a collision does on the real robot
    wait_for(lambda: arm.state().mode == DeviceMode.PROTECTIVE_STOP, what="protective stop in the state")
    with pytest.raises(ProtectiveStopError, match="protective stop"):
        arm.servo(HOME)
    with pytest.raises(ProtectiveStopError):
        arm.move_to(HOME)
    arm.release_emergency_stop()  # dashboard unlock + control script restart
    assert arm.state().mode != DeviceMode.PROTECTIVE_STOP
    arm.move_to(HOME + 0.05, speed_rad_s=2.0)
    np.testing.assert_allclose(arm.state().q_rad, HOME + 0.05, atol=2e-3)


def test_emergency_stop_is_reported_raised_and_recovered(arm: UR5eArm, emulator) -> None:
    arm.servo(HOME)
    emulator.signal(signal.SIGUSR1)  # the emulator's hook: someone presses the robot's e-stop
    wait_for(lambda: arm.state().mode == DeviceMode.EMERGENCY_STOP, what="emergency stop in the state")
    with pytest.raises(HardwareEmergencyStopError, match="emergency stop"):
        arm.servo(HOME)
    with pytest.raises(HardwareEmergencyStopError, match="button"):
        arm.release_emergency_stop()
    emulator.signal(signal.SIGUSR2)  # the button is twisted out
    wait_for(lambda: arm.state().mode != DeviceMode.EMERGENCY_STOP, what="emergency stop released")
    arm.release_emergency_stop()  # restarts the control script
    arm.move_to(HOME + 0.03, speed_rad_s=2.0)
    np.testing.assert_allclose(arm.state().q_rad, HOME + 0.03, atol=2e-3)


def test_tcp_and_payload_reach_the_controller(emulator) -> None:
    tcp = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0]
    arm = UR5eArm(UR5eConfig(host="127.0.0.1", tcp=tcp, payload_kg=1.1, payload_cog_m=[0, 0, 0.05]))
    arm.connect()
    try:
        np.testing.assert_allclose(arm._control.getTCPOffset(), tcp, atol=1e-9)
        q = arm.state().q_rad
        np.testing.assert_allclose(arm.state().tcp_pose, kinematics.forward(q, np.array(tcp)), atol=1e-6)
    finally:
        arm.close()


def test_forward_and_inverse_kinematics_through_output_registers(arm: UR5eArm) -> None:
    control = arm._control
    q = HOME + np.array([0.1, -0.2, 0.3, 0.1, 0.2, -0.1])
    pose = np.asarray(control.getForwardKinematics(q.tolist(), [0.0] * 6))
    np.testing.assert_allclose(pose, kinematics.forward(q), atol=1e-9)
    tcp = np.array([0.0, 0.0, 0.1, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(
        control.getForwardKinematics(q.tolist(), tcp.tolist()), kinematics.forward(q, tcp), atol=1e-9
    )
    q_back = np.asarray(control.getInverseKinematics(pose.tolist(), (q + 0.05).tolist()))
    np.testing.assert_allclose(kinematics.forward(q_back), pose, atol=1e-5)


def test_io_interface_sets_outputs_and_speed_slider(arm: UR5eArm) -> None:
    import rtde_io
    import rtde_receive

    io = rtde_io.RTDEIOInterface("127.0.0.1")
    receive = rtde_receive.RTDEReceiveInterface("127.0.0.1")
    try:
        assert io.setStandardDigitalOut(3, True)
        wait_for(lambda: receive.getActualDigitalOutputBits() & (1 << 3), what="digital output 3")
        assert io.setSpeedSlider(0.5)
        wait_for(lambda: abs(receive.getSpeedScaling() - 0.5) < 1e-9, what="speed slider")
        assert io.setSpeedSlider(1.0)
    finally:
        io.disconnect()
        receive.disconnect()


def test_hung_controller_raises_within_half_a_second(arm: UR5eArm, emulator) -> None:
    arm.servo(HOME)
    emulator.signal(signal.SIGSTOP)  # alive but silent, like a pulled cable
    try:
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeoutError, match="connection lost"):
            while time.monotonic() - t0 < 2.0:
                arm.servo(HOME)
                time.sleep(0.002)
        assert time.monotonic() - t0 < 0.5
    finally:
        emulator.signal(signal.SIGCONT)
    arm.reconnect()
    arm.servo(HOME)


def test_killed_controller_raises_within_half_a_second_and_reconnects(arm: UR5eArm, emulator) -> None:
    clock = RealTimeClock(0.002)
    for _ in range(50):
        arm.servo(HOME)
        clock.wait()
    emulator.kill()
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeoutError, match="connection lost"):
        while time.monotonic() - t0 < 2.0:
            arm.servo(HOME)
            clock.wait()
    assert time.monotonic() - t0 < 0.5
    emulator.start()
    arm.reconnect()
    arm.servo(HOME + 0.02)
    wait_for(lambda: np.max(np.abs(arm.state().q_rad - (HOME + 0.02))) < 1e-3, what="arm to follow after reconnect")


def test_connecting_to_a_stopped_robot_configures_it_once_released(arm: UR5eArm) -> None:
    """A robot already in protective stop: connect succeeds (so the stop can be released through the SDK),
    and TCP and payload, which a stopped controller refuses, are sent on release, before any motion."""
    arm._control.triggerProtectiveStop()
    wait_for(lambda: arm.state().mode == DeviceMode.PROTECTIVE_STOP, what="protective stop in the state")
    tcp = [0.0, 0.0, 0.1, 0.0, 0.0, 0.0]
    second = UR5eArm(UR5eConfig(host="127.0.0.1", tcp=tcp))
    arm.close()  # one ur_rtde client per emulator
    second.connect()
    try:
        assert second.state().mode == DeviceMode.PROTECTIVE_STOP
        second.release_emergency_stop()
        assert second.state().mode != DeviceMode.PROTECTIVE_STOP
        np.testing.assert_allclose(second._control.getTCPOffset(), tcp, atol=1e-9)
    finally:
        second.close()


def test_a_second_emulator_that_cannot_bind_is_reported_within_its_start_timeout(emulator) -> None:
    from twins.ur_emulator.spawn import spawn_emulator

    assert emulator.proc is not None and emulator.proc.poll() is None  # it holds port 30004
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"said nothing within 1\.0 s"):
        spawn_emulator(timeout_s=1.0)
    assert time.monotonic() - t0 < 15.0  # the wait is bounded (it used to block on readline)


def test_an_emulator_that_exits_at_once_is_reported_with_its_exit_code() -> None:
    from twins.ur_emulator.spawn import spawn_emulator

    with pytest.raises(RuntimeError, match="exited with code 2"):
        spawn_emulator(["--backend", "no-such-backend"], timeout_s=20.0)
