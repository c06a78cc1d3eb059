"""`dexscrew bench ur5e`: the UR5e driver streaming servoJ through real ur_rtde to the emulator.

The emulator runs in its own process (as a controller would), the driver in
this one, paced by `RealTimeClock` at 500 Hz. The baseline, measured in the
same run, is the same clock loop with no servoJ call: the ratio of the two
jitters is what the driver and ur_rtde add.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.clock import RealTimeClock
from drivers.ur5e import UR5eArm, UR5eConfig
from twins.ur_emulator.spawn import spawn_emulator

RATE_HZ = 500.0


def _baseline(periods: int) -> dict[str, float]:
    clock = RealTimeClock(1.0 / RATE_HZ)
    for _ in range(periods):
        clock.wait()
    s = clock.stats()
    return {"baseline_loop_hz": s.achieved_hz, "baseline_jitter_p99_us": s.jitter_p99_us}


def _stream(arm: UR5eArm, periods: int) -> dict[str, float]:
    clock = RealTimeClock(1.0 / RATE_HZ)
    call_s = np.empty(periods)
    amplitude = np.array([0.2, 0.1, 0.1, 0.2, 0.2, 0.3])
    for i in range(periods):
        target = joints.UR5E_HOME_RAD + amplitude * np.sin(2 * np.pi * 0.5 * i / RATE_HZ)
        t0 = time.perf_counter()
        arm.servo(target)
        call_s[i] = time.perf_counter() - t0
        clock.wait()
    tracking = float(np.max(np.abs(arm.state().q_rad - target)))
    s = clock.stats()
    return {
        "servo_loop_hz": s.achieved_hz,
        "servo_period_jitter_p50_us": s.jitter_p50_us,
        "servo_period_jitter_p99_us": s.jitter_p99_us,
        "servo_period_jitter_max_us": s.jitter_max_us,
        "servo_overruns": s.overruns,
        "servoj_call_p50_us": float(np.percentile(call_s, 50) * 1e6),
        "servoj_call_p99_us": float(np.percentile(call_s, 99) * 1e6),
        "tracking_error_final_rad": tracking,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    duration_s = 2.0 if getattr(args, "quick", False) else 10.0
    periods = int(duration_s * RATE_HZ)
    emulator = spawn_emulator()
    try:
        arm = UR5eArm(UR5eConfig(host="127.0.0.1", frequency_hz=RATE_HZ, lookahead_s=0.1, gain=300))
        arm.connect()
        try:
            arm.move_to(joints.UR5E_HOME_RAD, speed_rad_s=1.0)
            base = _baseline(periods)
            result = _stream(arm, periods)
        finally:
            arm.close()
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return {
        "bench": "ur5e",
        "rate_hz": RATE_HZ,
        "duration_s": duration_s,
        **result,
        **base,
        "jitter_p99_ratio_vs_baseline": result["servo_period_jitter_p99_us"] / max(base["baseline_jitter_p99_us"], 1.0),
        "targets_met": result["servo_loop_hz"] >= 495 and result["servo_period_jitter_p99_us"] <= 1000,
    }
