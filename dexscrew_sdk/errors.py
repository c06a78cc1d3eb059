"""Exceptions raised by the SDK. Each names what went wrong and what to do."""

from __future__ import annotations


class DexscrewError(Exception):
    """Base class of every error the SDK raises on purpose."""


class ConfigError(DexscrewError, ValueError):
    """A configuration file or override is invalid."""


class CodecError(DexscrewError, ValueError):
    """A bus message could not be decoded or failed validation."""


class CommandRejected(DexscrewError, ValueError):
    """A command failed validation; the device keeps its last safe command."""


class EmergencyStopActive(DexscrewError):
    """The device is emergency-stopped; call release_emergency_stop() first."""


class DeviceTimeoutError(DexscrewError, TimeoutError):
    """A device (local or remote) did not answer within its deadline."""


class MoveTimeoutError(DeviceTimeoutError):
    """A blocking move did not finish within its timeout; the arm was stopped where it was."""


class RemoteCallError(DexscrewError):
    """A node executed an RPC and reported an error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.remote_message = message


class DeviceFault(DexscrewError):
    """The hardware (or its twin) reports a fault."""


class ProtectiveStopError(DeviceFault):
    """The arm is in protective stop; unlock it (dashboard or pendant) before moving."""


class HardwareEmergencyStopError(DeviceFault):
    """The robot's own (hardware) emergency stop is pressed; release it on the robot first."""


class SkillError(DexscrewError, ValueError):
    """A skill file or its metadata is missing, corrupt or does not match the expected layout."""


class DeviceNotConnected(DexscrewError):
    """A method needing a connection was called before connect() or after close()."""


class NodeExitedError(DexscrewError):
    """A node process ended while it was expected to start serving; the message carries the node's own."""


def error_class(kind: str) -> type[DexscrewError] | None:
    """The SDK exception class called `kind`, so remote errors re-raise as their own type."""
    return _BY_NAME.get(kind)


_BY_NAME: dict[str, type[DexscrewError]] = {
    cls.__name__: cls
    for cls in (
        ConfigError,
        CodecError,
        CommandRejected,
        EmergencyStopActive,
        DeviceTimeoutError,
        MoveTimeoutError,
        DeviceFault,
        ProtectiveStopError,
        HardwareEmergencyStopError,
        SkillError,
        DeviceNotConnected,
        NodeExitedError,
    )
}
