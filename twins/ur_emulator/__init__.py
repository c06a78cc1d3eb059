"""A loopback UR controller emulator speaking RTDE, the dashboard and script upload.

The real ur_rtde client (RTDEControlInterface, RTDEReceiveInterface,
RTDEIOInterface, DashboardClient) connects to it on 127.0.0.1, so the UR5e
driver runs unchanged against a kinematic arm or the twin's arm.
"""

from twins.ur_emulator.controller import EmulatedController
from twins.ur_emulator.server import Ports, UREmulator

__all__ = ["EmulatedController", "Ports", "UREmulator"]
