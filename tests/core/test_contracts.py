"""The core's contracts, refused from outside: typed parameters, strict configuration, moves, targets, wire."""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import dexscrew_sdk
from dexscrew_sdk import codec, config, errors, params, resources, rpc
from dexscrew_sdk.clock import CONTROL_HZ, CONTROL_PERIOD_S
from dexscrew_sdk.errors import CodecError, CommandRejected, ConfigError, DexscrewError, MoveTimeoutError
from dexscrew_sdk.interfaces import Arm, ClockDrivenArm
from dexscrew_sdk.messages import hand_command_message, rpc_request
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.reference import KinematicCell
from dexscrew_sdk.skills import layout
from tests.conftest import REFERENCE_CELL
from tests.wire import frames_of, with_header

NODE = "[nodes.a]\nfactory='reference'\nbase_port=5550\nserves=['arm']\n"


def _load_text(tmp_path: Path, text: str, overrides: list[str] | None = None) -> config.CellConfig:
    path = tmp_path / "cell.toml"
    path.write_text(text)
    return config.load(path, overrides)


# ------------------------------------------------------------------ configuration refuses what it does not know
@pytest.mark.parametrize(
    "text, overrides, needle",
    [
        (NODE + "watchdog = 0.05\n", [], r"nodes\.a: unknown key \['watchdog'\]; valid keys: \[.*'watchdog_s'"),
        ("[cel]\nname='x'\n" + NODE, [], r"unknown top-level keys \['cel'\]"),
        ("[cell]\nlockstp=true\n" + NODE, [], r"cell: unknown key \['lockstp'\].*'lockstep'"),
        (NODE + "max_restarts = -1\n", [], r"max_restarts must be in \[0, 1000\], got -1"),
        (NODE.replace("['arm']", "[1, 2]"), [], r"nodes\.a\.serves\[0\] must be a string, got 1"),
        (NODE, ["cell.host=127"], r"cell\.host must be a string, got 127"),
        (NODE, ["nodes.a.watchdog=0.05"], r"unknown key \['watchdog'\].*'watchdog_s'"),
        (NODE, ["nodes.a.publish_hz=true"], r"publish_hz must be a number, got True"),
        (NODE, ["nodes.a.restart=sometimes"], r"restart: 'sometimes'; choose one of"),
    ],
)
def test_configuration_refuses_unknown_keys_and_wrong_types_naming_the_dotted_path(
    tmp_path: Path, text: str, overrides: list[str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        _load_text(tmp_path, text, overrides)


def test_unknown_factory_parameters_are_refused_listing_the_valid_ones(tmp_path: Path) -> None:
    cfg = _load_text(tmp_path, NODE, ["nodes.a.params.sed=3"])
    with pytest.raises(ConfigError, match=r"nodes\.a\.params: unknown key \['sed'\]; valid keys: \[.*'seed'"):
        config.check_all(cfg)
    cfg = _load_text(tmp_path, NODE, ["nodes.a.params.arm_limits.upper=[1.0]"])
    with pytest.raises(ConfigError, match=r"nodes\.a\.params\.arm_limits: unknown key \['upper'\]"):
        config.check_all(cfg)
    cfg = _load_text(tmp_path, NODE, ['nodes.a.params.seed="3"'])
    with pytest.raises(ConfigError, match=r"nodes\.a\.params\.seed must be an integer, got '3'"):
        config.check_all(cfg)


def test_a_directory_or_a_binary_file_as_configuration_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)
    binary = tmp_path / "cell.toml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a text"):
        config.load(binary)


def test_a_bare_name_resolves_to_a_shipped_configuration_and_a_path_still_works() -> None:
    assert config.load("twin_cell").name == "twin"
    assert config.load("twin_cell.toml").source == config.load("twin_cell").source
    assert config.load(REFERENCE_CELL).name == "reference"
    assert set(resources.shipped_configs()) >= {"twin_cell", "reference_cell", "real_cell", "hil_cell"}
    with pytest.raises(ConfigError, match=r"neither a file nor a shipped configuration; shipped: \["):
        config.load("twin_cel")


def test_every_shipped_configuration_fits_its_factories() -> None:
    for name in resources.shipped_configs():
        config.check_all(config.load(name))


# ------------------------------------------------------------------ typed factories
def untyped_factory(params, ctx):  # type: ignore[no-untyped-def]
    raise AssertionError("never called")


def dict_factory(params: dict, ctx: NodeContext) -> None:  # type: ignore[type-arg]
    raise AssertionError("never called")


def old_style_factory(params: dict) -> None:  # type: ignore[type-arg]
    raise AssertionError("never called")


@pytest.mark.parametrize("name", ["untyped_factory", "dict_factory", "old_style_factory"])
def test_a_factory_without_a_parameter_dataclass_is_refused_naming_the_rule(name: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(params.FACTORY_RULE)):
        config.resolve_factory(f"tests.core.test_contracts:{name}")


def test_every_shipped_factory_declares_a_parameter_dataclass_and_takes_the_node_context() -> None:
    for short in config.FACTORIES:
        factory = config.resolve_factory(short)
        assert dataclasses.is_dataclass(factory.params_type)
        assert list(inspect.signature(factory.make).parameters) == ["params", "ctx"]
    # the framework's values never appear among a factory's parameters
    for short in config.FACTORIES:
        names = {f.name for f in dataclasses.fields(config.resolve_factory(short).params_type)}
        assert not names & {"devices", "lockstep", "control_hz", "limits"}, short


def test_limits_are_spelt_the_same_for_simulated_and_real_factories() -> None:
    spellings = {}
    for short in config.FACTORIES:
        names = {f.name for f in dataclasses.fields(config.resolve_factory(short).params_type)}
        spellings[short] = names & {"arm_limits", "hand_limits", "workspace"}
    assert spellings["ur5e"] == {"arm_limits", "workspace"}
    assert spellings["xhand"] == {"hand_limits"}
    assert spellings["reference"] == spellings["twin"] == {"arm_limits", "hand_limits", "workspace"}


@dataclass
class _Nested:
    gain: float = 1.0
    names: list[str] = dataclasses.field(default_factory=list)


@dataclass
class _Outer:
    inner: _Nested = dataclasses.field(default_factory=_Nested)
    count: int = 0
    maybe: float | None = None


def test_the_parameter_loader_checks_nested_types_and_never_takes_a_bool_for_a_number() -> None:
    loaded = params.load(_Outer, {"inner": {"gain": 2, "names": ["a"]}, "count": 3}, "p")
    assert loaded.inner.gain == 2.0 and isinstance(loaded.inner.gain, float) and loaded.count == 3
    for bad, needle in (
        ({"count": True}, r"p\.count must be an integer, got True"),
        ({"count": 1.5}, r"p\.count must be an integer"),
        ({"inner": {"gain": "2"}}, r"p\.inner\.gain must be a number"),
        ({"inner": {"names": [1]}}, r"p\.inner\.names\[0\] must be a string"),
        ({"inner": {"gian": 1}}, r"p\.inner: unknown key \['gian'\]"),
        ({"maybe": "x"}, r"p\.maybe must be a number"),
        ({"inner": 3}, r"p\.inner must be a table"),
    ):
        with pytest.raises(ConfigError, match=needle):
            params.load(_Outer, bad, "p")


def test_a_twin_factory_parameter_is_checked_when_the_configuration_is() -> None:
    cfg = config.load("twin_cell", ["nodes.twin.params.shape=dodecagon"])  # a screwdriver handle, not a nut
    with pytest.raises(ConfigError, match="shape"):
        config.check_all(cfg)


# ------------------------------------------------------------------ one move contract
def test_simulated_arms_are_clock_driven_arms_by_inheritance() -> None:
    cell = KinematicCell()
    assert isinstance(cell.arm, ClockDrivenArm)
    from drivers.ur5e import UR5eArm

    assert issubclass(UR5eArm, Arm) and not issubclass(UR5eArm, ClockDrivenArm)


def test_a_move_that_does_not_finish_raises_the_one_move_timeout_error() -> None:
    cell = KinematicCell()
    far = cell.arm.state().q_rad + 0.5
    with pytest.raises(MoveTimeoutError, match="did not finish"):
        cell.arm._apply_move(far, 0.01, 1.0)  # below the check's bound on purpose: the device itself times out
    assert issubclass(MoveTimeoutError, errors.DeviceTimeoutError)


@pytest.mark.parametrize(
    "speed, timeout, needle",
    [
        (1e6, 30.0, r"speed_rad_s must be in \[0\.001, 10\]"),
        (-1.0, 30.0, "speed_rad_s must be in"),
        (float("nan"), 30.0, "speed_rad_s must be in"),
        (0.0, 30.0, "speed_rad_s must be in"),
        (1e-9, 30.0, "speed_rad_s must be in"),
        ("1", 30.0, "speed_rad_s must be a number"),
        (True, 30.0, "speed_rad_s must be a number"),
        (1.0, float("nan"), "timeout_s must be in"),
        (1.0, -1.0, "timeout_s must be in"),
        (0.01, 5.0, r"takes 50\.0 s, longer than timeout_s=5"),
    ],
)
def test_every_move_argument_is_checked_before_the_arm_moves(speed: object, timeout: object, needle: str) -> None:
    cell = KinematicCell()
    before = cell.arm.state().q_rad.copy()
    with pytest.raises(CommandRejected, match=needle):
        cell.arm.move_to(before + 0.5, speed_rad_s=speed, timeout_s=timeout)  # type: ignore[arg-type]
    cell.advance(0.5)
    np.testing.assert_array_equal(cell.arm.state().q_rad, before)


def test_a_fast_move_request_is_clamped_to_the_arms_own_speed_limit() -> None:
    cell = KinematicCell()
    q = cell.arm.state().q_rad
    _, speed, _ = cell.arm.check_move(q + 0.1, 9.0, 30.0)
    assert speed == float(cell.arm.limits.max_speed_rad_s.min())


# ------------------------------------------------------------------ targets are numbers
@pytest.mark.parametrize(
    "entry, needle",
    [
        ("0.1", r"entry 0 is '0\.1' \(str\), not a number"),
        (None, r"entry 0 is None \(NoneType\), not a number"),
        (True, r"entry 0 is True \(bool\), not a number"),
    ],
)
def test_numeric_strings_and_none_are_refused_as_joint_targets(entry: object, needle: str) -> None:
    cell = KinematicCell()
    with pytest.raises(CommandRejected, match=needle):
        cell.hand.command([entry] * 12)
    with pytest.raises(CommandRejected, match=needle):
        cell.arm.servo([entry] * 6)
    with pytest.raises(CommandRejected, match=r"entry 11 is 'x' \(str\)"):
        cell.hand.command([0.1] * 11 + ["x"])


# ------------------------------------------------------------------ the wire: exactly what the schema says
@pytest.mark.parametrize("version", [1.0, True, "1", 2])
def test_a_schema_version_that_is_not_exactly_the_integer_1_is_refused(version: object) -> None:
    frames = frames_of(b"hand", hand_command_message(np.zeros(12), None, None, 1))
    with pytest.raises(CodecError, match="schema version"):
        codec.decode(with_header(frames, lambda h: h.update(v=version)))


def test_negative_sequence_numbers_and_requests_missing_a_field_are_refused_by_the_codec() -> None:
    frames = frames_of(b"hand", hand_command_message(np.zeros(12), None, None, 1))
    with pytest.raises(CodecError, match="non-negative"):
        codec.decode(with_header(frames, lambda h: h.update(seq=-5)))
    for missing in ("device", "method", "args"):
        msg = rpc_request(1, "arm", "stop", {})
        del msg.fields[missing]
        with pytest.raises(CodecError, match=f"missing required fields \\['{missing}'\\]"):
            codec.decode(frames_of(b"rpc", msg))


def test_every_rpc_method_has_a_declared_schema_that_names_a_bad_argument() -> None:
    assert set(rpc.METHODS) >= {"ping", "move_to", "tick", "reset", "perturb", "stop", "info"}
    with pytest.raises(CommandRejected, match=r"move_to: unknown arguments \['sped'\]"):
        rpc.check_client_args("move_to", {"q_rad": [0.0] * 6, "sped": 1.0})
    with pytest.raises(CommandRejected, match=r"move_to: q_rad\[2\] must be a finite number"):
        rpc.check_client_args("move_to", {"q_rad": [0.0, 0.0, float("nan"), 0.0, 0.0, 0.0]})
    with pytest.raises(CommandRejected, match=r"tick: periods must be in \[1, 100000\]"):
        rpc.check_client_args("tick", {"periods": 0})
    with pytest.raises(CommandRejected, match=r"tick: after: 'hand' -> True"):
        rpc.check_client_args("tick", {"after": {"hand": True}})
    with pytest.raises(CommandRejected, match="unknown rpc method"):
        rpc.check_request({"device": "", "method": "selfdestruct", "args": {}}, {})
    assert rpc.check_client_args("move_to", {"q_rad": [0.0] * 6})["speed_rad_s"] == 1.05


# ------------------------------------------------------------------ records
def test_in_process_state_arrays_are_read_only_like_the_ones_from_the_bus() -> None:
    cell = KinematicCell()
    for array in (cell.arm.state().q_rad, cell.hand.state().q_rad, cell.tactile.frame().force_n):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0
    q = cell.hand.state().q_rad.copy()  # the documented way to get an array to modify
    q[0] = 1.0


def test_a_record_freezes_every_array_it_is_built_from_and_keeps_decoded_views_as_they_are() -> None:
    from dexscrew_sdk.messages import hand_state_to_message, message_to_hand_state
    from dexscrew_sdk.records import ArmState, DeviceMode, HandState

    arrays = [np.zeros(6) for _ in range(4)]
    ArmState(1, 2, *arrays, DeviceMode.IDLE)
    assert not any(a.flags.writeable for a in arrays)  # all four, not only the first
    sent = HandState(1, 2, np.full(12, 0.5), np.zeros(12), DeviceMode.SERVOING, 7)
    frames = codec.encode(b"hand/state", hand_state_to_message(sent))
    got = message_to_hand_state(codec.decode(frames)[1])
    for array in (got.q_rad, got.torque_nm):
        assert not array.flags.writeable
        assert isinstance(array.base, np.ndarray) and isinstance(array.base.base, bytes)  # still a view, no copy
    assert got.q_rad.tolist() == [0.5] * 12 and got.cmd_seq == 7


# ------------------------------------------------------------------ one base, one place
def test_every_sdk_error_class_derives_from_the_one_base() -> None:
    import dexscrew_sdk.launcher
    from dexscrew_sdk.skills.policy import SkillError

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert all(issubclass(c, DexscrewError) for c in classes)
    assert issubclass(dexscrew_sdk.launcher.NodeExitedError, DexscrewError)
    assert SkillError is errors.SkillError


def test_a_checkpoint_error_is_an_sdk_error_and_the_python38_path_still_needs_no_sdk_package() -> None:
    pytest.importorskip("torch")
    import subprocess
    import sys

    from policies.rl.checkpoint import CheckpointError

    assert issubclass(CheckpointError, DexscrewError) and issubclass(CheckpointError, ValueError)
    code = (
        "import sys; sys.version_info = (3, 8, 10); "  # the path IsaacGym's interpreter takes
        "from policies.rl.checkpoint import CheckpointError; "
        "print('dexscrew_sdk' in sys.modules, [c.__name__ for c in CheckpointError.__mro__[1:3]])"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert out.stdout.strip() == "False ['DexscrewError', 'ValueError']", out.stderr


def test_the_control_rate_is_written_in_one_place() -> None:
    assert CONTROL_HZ == layout.CONTROL_HZ == 20.0 and CONTROL_PERIOD_S == 1 / CONTROL_HZ
    assert KinematicCell.control_period_s == CONTROL_PERIOD_S
    assert config.CellTable().control_hz == CONTROL_HZ
    core = Path(dexscrew_sdk.__path__[0])
    literal = re.compile(r"(?<![\w.])(?:20\.0|0\.05)(?![\w.])")
    hits = [
        f"{p.name}:{i}"
        for p in core.glob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if literal.search(code := line.split("#")[0]) and ("period" in code.lower() or "hz" in code.lower())
    ]
    assert not hits, hits
