"""RTDE variable names -> controller data types, and their big-endian struct codes.

ur_rtde decodes every output with its own table, so each variable must be packed
as the real controller types it (UR's RTDE guide); a wrong type desynchronises
the whole package.
"""

from __future__ import annotations

import re
import struct

STRUCT_CODES: dict[str, str] = {
    "VECTOR6D": "6d",
    "VECTOR3D": "3d",
    "VECTOR6INT32": "6i",
    "VECTOR6UINT32": "6I",
    "DOUBLE": "d",
    "UINT64": "Q",
    "UINT32": "I",
    "INT32": "i",
    "BOOL": "?",
    "UINT8": "B",
}

_VECTOR6D = (
    "target_q target_qd target_qdd target_current target_moment actual_q actual_qd actual_current "
    "joint_control_output actual_TCP_pose actual_TCP_speed actual_TCP_force target_TCP_pose target_TCP_speed "
    "joint_temperatures actual_joint_voltage ft_raw_wrench payload_inertia actual_current_as_torque "
    "external_force_torque actual_current_window target_current_window"
)
_VECTOR3D = "actual_tool_accelerometer elbow_position elbow_velocity payload_cog"
_DOUBLE = (
    "timestamp actual_execution_time speed_scaling target_speed_fraction actual_momentum actual_main_voltage "
    "actual_robot_voltage actual_robot_current standard_analog_input0 standard_analog_input1 "
    "standard_analog_output0 standard_analog_output1 io_current euromap67_24V_current tool_analog_input0 "
    "tool_analog_input1 tool_output_current tool_temperature tcp_force_scalar payload speed_slider_fraction "
    "standard_analog_output_0 standard_analog_output_1 speed_scaling_combined"
)
_INT32 = "robot_mode safety_mode safety_status tool_output_voltage"
_UINT32 = (
    "runtime_state robot_status_bits safety_status_bits analog_io_types euromap67_input_bits "
    "euromap67_output_bits euromap67_24V_voltage tool_mode tool_analog_input_types script_control_line "
    "output_bit_registers0_to_31 output_bit_registers32_to_63 input_bit_registers0_to_31 "
    "input_bit_registers32_to_63 speed_slider_mask"
)
_UINT64 = "actual_digital_input_bits actual_digital_output_bits"
_UINT8 = (
    "tool_output_mode tool_digital_output0_mode tool_digital_output1_mode standard_digital_output_mask "
    "standard_digital_output configurable_digital_output_mask configurable_digital_output "
    "tool_digital_output_mask tool_digital_output standard_analog_output_mask standard_analog_output_type"
)

VAR_TYPES: dict[str, str] = {
    **dict.fromkeys(_VECTOR6D.split(), "VECTOR6D"),
    **dict.fromkeys(_VECTOR3D.split(), "VECTOR3D"),
    **dict.fromkeys(_DOUBLE.split(), "DOUBLE"),
    **dict.fromkeys(_INT32.split(), "INT32"),
    **dict.fromkeys(_UINT32.split(), "UINT32"),
    **dict.fromkeys(_UINT64.split(), "UINT64"),
    **dict.fromkeys(_UINT8.split(), "UINT8"),
    "joint_mode": "VECTOR6INT32",
}

_REGISTER = re.compile(r"^(input|output)_(int|double|bit)_register_(\d+)$")
_REGISTER_TYPES = {"int": "INT32", "double": "DOUBLE", "bit": "BOOL"}


def var_type(name: str) -> str | None:
    """RTDE type of a variable, None when the controller does not know it (-> NOT_FOUND)."""
    m = _REGISTER.match(name)
    if m:
        return _REGISTER_TYPES[m.group(2)] if int(m.group(3)) < 64 else None
    return VAR_TYPES.get(name)


def register(name: str) -> tuple[str, str, int] | None:
    """("input"|"output", "int"|"double"|"bit", index) for a register variable."""
    m = _REGISTER.match(name)
    return None if m is None else (m.group(1), m.group(2), int(m.group(3)))


def recipe_struct(types: list[str]) -> struct.Struct:
    return struct.Struct(">" + "".join(STRUCT_CODES[t] for t in types))


def width(rtde_type: str) -> int:
    """Number of elements of a vector type, 0 for a scalar."""
    return int(STRUCT_CODES[rtde_type][0]) if rtde_type.startswith("VECTOR") else 0
