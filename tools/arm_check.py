"""Arm checks (`dexscrew calibrate arm`): is the arm set up as the configuration says, and can it go home?

1. Controller read-back. The UR controller's active TCP and payload are read
   over RTDE with a read-only `ur_rtde` receive interface (allowed beside the
   arm node's own session), independent of what the SDK's driver believes it
   sent. The active TCP follows from the controller's own numbers: its TCP
   pose is flange pose x TCP offset, and the flange pose is the UR5e's
   kinematics at the joint angles it reports. A TCP or payload that differs
   from the configuration (changed on the pendant, by another program, or a
   configuration edited without restarting the node) is the fault to find:
   the controller's collision detection and force readings use its values.
2. Limits and workspace of the configured cell: the home pose and the current
   pose inside the joint limits, their TCPs inside the workspace box, a box
   that keeps the TCP above the base plane and inside the arm's reach.
3. A slow move to home (0.2 rad/s by default) after the operator confirms.

Stated tolerances: TCP position 2 mm, TCP rotation 1 degree, payload 0.05 kg,
centre of gravity 5 mm. (The read-back uses the nominal UR5e kinematics; a
robot's factory calibration moves the TCP by well under a millimetre.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dexscrew_sdk import config as config_mod
from dexscrew_sdk import joints, kinematics
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.config import CellConfig
from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.safety import JointLimits, Workspace
from tools.prompts import confirm_yes

TCP_POSITION_TOL_M = 0.002
TCP_ROTATION_TOL_RAD = float(np.deg2rad(1.0))
PAYLOAD_TOL_KG = 0.05
COG_TOL_M = 0.005
HOME_SPEED_RAD_S = 0.2
HOME_REACHED_RAD = 0.01
UR5E_REACH_M = 0.85  # the UR5e's published reach from the shoulder axis
SHOULDER_HEIGHT_M = 0.1625


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # "ok" | "fail" | "warn" | "skipped"
    detail: str


@dataclass(frozen=True)
class ControllerSetup:
    """What the controller has active, read back over RTDE."""

    q_rad: np.ndarray
    tcp_pose: np.ndarray
    payload_kg: float
    payload_cog_m: np.ndarray

    @property
    def tcp_offset(self) -> np.ndarray:
        """Flange -> TCP: the controller's TCP pose seen from the flange pose at the same joint angles."""
        flange = kinematics.pose_to_matrix(kinematics.forward(self.q_rad))
        tcp = kinematics.pose_to_matrix(self.tcp_pose)
        return kinematics.matrix_to_pose(np.linalg.inv(flange) @ tcp)


def read_controller(host: str, frequency_hz: float = 125.0) -> ControllerSetup:
    """One consistent read of the controller's joints, TCP pose and payload (read-only RTDE session)."""
    try:
        import rtde_receive
    except ImportError as exc:
        raise DexscrewError(f"the arm check reads the controller with ur_rtde: pip install ur-rtde ({exc})") from None
    try:
        receive = rtde_receive.RTDEReceiveInterface(host, frequency_hz)
    except RuntimeError as exc:
        raise DexscrewError(f"cannot read the UR controller at {host} over RTDE: {exc}") from None
    try:
        for _ in range(3):  # q and the TCP pose must come from one package: retry if a new one arrived
            stamp = receive.getTimestamp()
            setup = ControllerSetup(
                np.asarray(receive.getActualQ(), dtype=float),
                np.asarray(receive.getActualTCPPose(), dtype=float),
                float(receive.getPayload()),
                np.asarray(receive.getPayloadCog(), dtype=float),
            )
            if receive.getTimestamp() == stamp:
                return setup
        return setup
    finally:
        receive.disconnect()


def _rotation_between(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = kinematics.rotvec_to_matrix(a), kinematics.rotvec_to_matrix(b)
    return float(np.linalg.norm(kinematics.matrix_to_rotvec(ra.T @ rb)))


def compare_setup(tcp: np.ndarray, payload_kg: float, cog_m: np.ndarray, active: ControllerSetup) -> list[Finding]:
    """Configured TCP and payload against the controller's; each mismatch names the quantity and both values."""
    out: list[Finding] = []
    got = active.tcp_offset
    dpos = got[:3] - tcp[:3]
    bad_axes = [
        f"{'xyz'[i]} {got[i]:+.4f} m (configured {tcp[i]:+.4f})" for i in range(3) if abs(dpos[i]) > TCP_POSITION_TOL_M
    ]
    if bad_axes:
        out.append(Finding("tcp_position", "fail", "controller's active TCP " + ", ".join(bad_axes)))
    else:
        out.append(Finding("tcp_position", "ok", f"within {TCP_POSITION_TOL_M * 1000:.0f} mm of the configuration"))
    drot = _rotation_between(got[3:], tcp[3:])
    if drot > TCP_ROTATION_TOL_RAD:
        out.append(
            Finding(
                "tcp_rotation",
                "fail",
                f"controller's active TCP rotation {np.round(got[3:], 4).tolist()} differs from the configured "
                f"{np.round(tcp[3:], 4).tolist()} by {np.rad2deg(drot):.1f} deg",
            )
        )
    else:
        out.append(Finding("tcp_rotation", "ok", f"within {np.rad2deg(TCP_ROTATION_TOL_RAD):.0f} deg"))
    if abs(active.payload_kg - payload_kg) > PAYLOAD_TOL_KG:
        out.append(
            Finding(
                "payload_mass",
                "fail",
                f"controller's payload {active.payload_kg:.3f} kg, configured {payload_kg:.3f} kg",
            )
        )
    else:
        out.append(Finding("payload_mass", "ok", f"{active.payload_kg:.3f} kg"))
    dcog = np.abs(active.payload_cog_m - cog_m)
    if (dcog > COG_TOL_M).any():
        out.append(
            Finding(
                "payload_cog",
                "fail",
                f"controller's centre of gravity {np.round(active.payload_cog_m, 4).tolist()} m, configured "
                f"{np.round(cog_m, 4).tolist()} m",
            )
        )
    else:
        out.append(Finding("payload_cog", "ok", f"within {COG_TOL_M * 1000:.0f} mm"))
    return out


def limits_sanity(
    limits: JointLimits, workspace: Workspace | None, tcp: np.ndarray, home_rad: np.ndarray, q_now_rad: np.ndarray
) -> list[Finding]:
    out: list[Finding] = []
    for what, q in (("home", home_rad), ("current pose", q_now_rad)):
        outside = [
            f"{n} {q[i]:+.3f} rad not in [{limits.lower_rad[i]:+.3f}, {limits.upper_rad[i]:+.3f}]"
            for i, n in enumerate(limits.names)
            if not limits.lower_rad[i] <= q[i] <= limits.upper_rad[i]
        ]
        key = f"{what.replace(' ', '_')}_joint_limits"
        out.append(Finding(key, "fail", "; ".join(outside)) if outside else Finding(key, "ok", "inside the limits"))
    if workspace is None:
        out.append(Finding("workspace", "warn", "no TCP workspace box configured: set [nodes.<arm>.params.workspace]"))
        return out
    lo, hi = np.asarray(workspace.min_xyz_m, float), np.asarray(workspace.max_xyz_m, float)
    for what, q, status in (("home", home_rad, "fail"), ("current pose", q_now_rad, "warn")):
        p = kinematics.forward(q, tcp)[:3]
        key = f"{what.replace(' ', '_')}_in_workspace"
        inside = bool(((p >= lo) & (p <= hi)).all())
        text = f"TCP at {np.round(p, 3).tolist()} m, box {lo.tolist()} .. {hi.tolist()}"
        out.append(Finding(key, "ok" if inside else status, text if not inside else "TCP inside the box"))
    if lo[2] < 0.0:
        out.append(Finding("workspace_floor", "warn", f"the box reaches {lo[2]:.3f} m, below the arm's base plane"))
    shoulder = np.array([0.0, 0.0, SHOULDER_HEIGHT_M])
    nearest = np.clip(shoulder, lo, hi)  # the box's point closest to the shoulder
    if np.linalg.norm(nearest - shoulder) > UR5E_REACH_M + np.linalg.norm(tcp[:3]):
        out.append(
            Finding("workspace_reach", "fail", f"no point of the box {lo.tolist()} .. {hi.tolist()} is in reach")
        )
    return out


def move_home(cell: Cell, home_rad: np.ndarray, speed_rad_s: float, confirm: Callable[[str], bool]) -> Finding:
    prompt = f"Move the arm to home {np.round(np.rad2deg(home_rad), 1).tolist()} deg at {speed_rad_s} rad/s?"
    if not confirm(prompt):
        return Finding("move_home", "skipped", "not confirmed by the operator; nothing moved")
    try:
        cell.arm.move_to(home_rad, speed_rad_s=speed_rad_s)
    except KeyboardInterrupt:
        cell.arm.stop()
        raise
    except DexscrewError as exc:
        return Finding("move_home", "fail", f"{type(exc).__name__}: {exc}")
    err = np.abs(cell.arm.state().q_rad - home_rad)
    if err.max() > HOME_REACHED_RAD:
        j = int(err.argmax())
        return Finding("move_home", "fail", f"{joints.ARM_JOINT_NAMES[j]} ended {err[j]:.4f} rad from home")
    return Finding("move_home", "ok", f"reached home within {err.max():.4f} rad")


def arm_node(cfg: CellConfig) -> tuple[str, Any, Any]:
    spec = cfg.node_serving("arm")
    factory, params = config_mod.node_params(cfg, spec.name)
    return spec.name, factory, params


def run_checks(
    cfg: CellConfig,
    confirm: Callable[[str], bool],
    home_rad: np.ndarray = joints.UR5E_HOME_RAD,
    speed_rad_s: float = HOME_SPEED_RAD_S,
    move: bool = True,
) -> dict[str, Any]:
    name, _, params = arm_node(cfg)
    tcp = np.asarray(getattr(params, "tcp", np.zeros(6)), dtype=float)
    findings: list[Finding] = []
    host = getattr(params, "host", None)
    if cfg.nodes[name].factory in ("ur5e", "drivers.ur5e:make_ur5e_node") and host is not None:
        active = read_controller(str(host))
        findings += compare_setup(tcp, float(params.payload_kg), np.asarray(params.payload_cog_m, float), active)
    else:
        findings.append(
            Finding(
                "controller_readback", "skipped", f"arm node {name!r} ({cfg.nodes[name].factory}) has no UR controller"
            )
        )
    ws_params = getattr(params, "workspace", None)
    workspace = None if ws_params is None else ws_params.build()
    with Cell.connect(cfg) as cell:
        findings += limits_sanity(cell.arm.limits, workspace, tcp, home_rad, cell.arm.state().q_rad)
        failed_before_move = any(f.status == "fail" for f in findings)
        if move and not failed_before_move:
            findings.append(move_home(cell, home_rad, speed_rad_s, confirm))
        elif move:
            findings.append(Finding("move_home", "skipped", "not attempted: fix the failed checks first"))
    return {
        "arm_node": name,
        "ok": not any(f.status == "fail" for f in findings),
        "findings": [asdict(f) for f in findings],
        "tolerances": {
            "tcp_position_m": TCP_POSITION_TOL_M,
            "tcp_rotation_deg": float(np.rad2deg(TCP_ROTATION_TOL_RAD)),
            "payload_kg": PAYLOAD_TOL_KG,
            "payload_cog_m": COG_TOL_M,
        },
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", type=float, nargs=6, metavar="DEG", help="home pose in degrees (default: the UR5e home)")
    p.add_argument("--speed", type=float, default=HOME_SPEED_RAD_S, help="joint speed of the move home [rad/s]")
    p.add_argument("--no-move", action="store_true", help="check only, do not move")
    p.add_argument("--yes", action="store_true", help="confirm the move home without asking")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config, args.overrides)
    home = joints.UR5E_HOME_RAD if args.home is None else np.deg2rad(np.asarray(args.home, dtype=float))
    if not (0 < args.speed <= 0.5):
        raise DexscrewError(f"--speed {args.speed}: the move home is slow by design, choose (0, 0.5] rad/s")
    report = run_checks(cfg, (lambda _: True) if args.yes else confirm_yes, home, args.speed, not args.no_move)
    for f in report["findings"]:
        print(f"{f['status']:>7}  {f['check']}: {f['detail']}", file=sys.stderr)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    from tools.cli import standalone

    return standalone("arm", argv)


if __name__ == "__main__":
    sys.exit(main())
