"""What the UR controller RECEIVES from the real UR5e driver (ur_rtde) during a 20 Hz teleop session:
a 500 Hz servoJ stream whose steps and accelerations are bounded, reaching each target within one period."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.clock import RealTimeClock
from dexscrew_sdk.servo_interpolation import DEFAULT_MAX_ACCEL_RAD_S2
from dexscrew_sdk.teleop.command import Frame, MotionKind, OperatorCommand
from dexscrew_sdk.teleop.wrist import WristController, WristLimits
from tests.conftest import wait_until

pytest.importorskip("rtde_control")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
SERVO_DT_S = 0.002
APP_PERIOD_S = 0.05
TOOL = np.array([0.0, 0.0, 0.15, 0.0, 0.0, 0.0])


def _spawn(out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.teleop.servo_log_emulator", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        line = proc.stdout.readline() if sel.select(timeout=30.0) else ""
    if "ready" not in line:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"logging emulator did not start: {line!r}")
    return proc


def _session(arm, seconds: float) -> list[tuple[float, np.ndarray]]:
    """A 20 Hz operator turning the tool back and forth about its axis and moving it sideways."""
    import time

    wrist = WristController(TOOL, APP_PERIOD_S, arm.limits, WristLimits(max_joint_speed_rad_s=0.8))
    wrist.reset(arm.state().q_rad)
    clock, sent = RealTimeClock(APP_PERIOD_S), []
    for i in range(round(seconds / APP_PERIOD_S)):
        sign = 1.0 if (i // 10) % 2 == 0 else -1.0
        cmd = OperatorCommand(
            MotionKind.TWIST, np.array([0.0, 0.03 * sign, 0.0, 0.0, 0.0, 0.8 * sign]), Frame.TOOL, clutch=True
        )
        q = wrist.step(cmd).q_target_rad
        arm.servo(q)
        sent.append((time.monotonic(), q))
        clock.wait()
    return sent


def test_a_20hz_session_reaches_the_controller_as_a_smooth_500hz_stream(tmp_path: Path) -> None:
    from drivers.ur5e import UR5eArm, UR5eConfig

    log = tmp_path / "servoj.npy"
    proc = _spawn(log)
    try:
        arm = UR5eArm(UR5eConfig(host="127.0.0.1", connect_timeout_s=20.0))
        arm.connect()
        try:
            arm.move_to(joints.UR5E_HOME_RAD + np.array([0, 0, 0, 0, 0.3, 0]), speed_rad_s=1.0)
            sent = _session(arm, seconds=2.0)
            stream = arm._stream  # the driver's servo thread
            assert stream is not None
            wait_until(lambda: stream.settled, 10.0, "the servo stream to land on the last target")
            arm.stop()
        finally:
            arm.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    rx = np.load(log)
    t0, t_end = sent[0][0], sent[-1][0] + 2 * APP_PERIOD_S
    stream = rx[(rx[:, 0] >= t0) & (rx[:, 0] <= t_end)]
    q = stream[:, 1:]
    # a servo-rate stream, not one servoJ per application step (25 per step at 500 Hz; a loaded host skips some)
    assert len(stream) >= 5 * len(sent), f"{len(stream)} servoJ packets for {len(sent)} application targets"
    v_max = float(joints.UR5E_MAX_SPEED_RAD_S.min())

    steps = np.abs(np.diff(q, axis=0))
    assert steps.max() <= v_max * SERVO_DT_S + 1e-9, f"a servoJ step of {steps.max():.4f} rad in one 2 ms cycle"
    accel = np.abs(np.diff(q, n=2, axis=0)) / SERVO_DT_S**2
    assert accel.max() <= DEFAULT_MAX_ACCEL_RAD_S2 * (1 + 1e-6), f"finite-difference acceleration {accel.max():.0f}"
    # the latency it adds is one application period (25 cycles) plus braking to a stop: counted in cycles,
    # so a loaded host that runs the thread late does not change the verdict
    after = rx[rx[:, 0] >= sent[-1][0], 1:]
    landed = np.flatnonzero(np.abs(after - sent[-1][1]).max(axis=1) < 1e-3)
    assert len(landed), "the stream never reached the last target"
    braking = round(0.8 / DEFAULT_MAX_ACCEL_RAD_S2 / SERVO_DT_S)  # cycles to stop from the session's top speed
    assert landed[0] <= APP_PERIOD_S / SERVO_DT_S + braking + 2, f"reached the last target after {landed[0]} cycles"
    moved = np.abs(q[-1] - q[0]).max() + np.ptp(q, axis=0).max()
    assert moved > 0.3  # the session did move the wrist (a still arm would pass the bounds trivially)
