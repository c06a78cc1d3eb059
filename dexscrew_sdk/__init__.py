"""dexscrew SDK core: device interfaces, bus, nodes, clocks, safety, launcher."""

from dexscrew_sdk.errors import (
    CodecError,
    CommandRejected,
    ConfigError,
    DeviceTimeoutError,
    DexscrewError,
    EmergencyStopActive,
)
from dexscrew_sdk.interfaces import Arm, Device, Hand, TactileSensor, World
from dexscrew_sdk.records import ArmState, DeviceInfo, DeviceMode, HandState, TactileFrame, TaskProgress

__version__ = "0.1.0"

__all__ = [
    "Arm",
    "ArmState",
    "CodecError",
    "CommandRejected",
    "ConfigError",
    "Device",
    "DeviceInfo",
    "DeviceMode",
    "DeviceTimeoutError",
    "DexscrewError",
    "EmergencyStopActive",
    "Hand",
    "HandState",
    "TactileFrame",
    "TactileSensor",
    "TaskProgress",
    "World",
]
