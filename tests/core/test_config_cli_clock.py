"""Configuration parsing and overrides, the command line's help, and the clocks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dexscrew_sdk import config, params
from dexscrew_sdk.cli import build_parser
from dexscrew_sdk.clock import RealTimeClock
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.params import JointLimitParams
from tests.conftest import CONFIGS, REFERENCE_CELL


def test_reference_config_and_overrides() -> None:
    cfg = config.load(REFERENCE_CELL, ["nodes.cell.params.seed=3", "cell.lockstep=true", "cell.name=bench"])
    assert cfg.lockstep and cfg.name == "bench"
    assert cfg.nodes["cell"].params["seed"] == 3
    assert cfg.node_serving("tactile").name == "cell"
    assert cfg.endpoints("cell").rpc == "tcp://127.0.0.1:5552"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_parses(path: Path) -> None:
    cfg = config.load(path)
    assert cfg.nodes
    for spec in cfg.nodes.values():
        assert spec.serves


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[cell]\n", "at least one node"),
        ("[nodes.a]\nfactory='reference'\nserves=['arm']\n", "missing required key 'base_port'"),
        ("[nodes.a]\nfactory='reference'\nbase_port=80\nserves=['arm']\n", "must be in"),
        ("[nodes.a]\nfactory='reference'\nbase_port=5550\nserves=['arm']\nrestart='sometimes'\n", "choose one of"),
        ("[nodes.a]\nfactory=1\nbase_port=5550\nserves=['arm']\n", "factory must be a string"),
        (
            "[nodes.a]\nfactory='r'\nbase_port=5550\nserves=['arm']\n[nodes.b]\nfactory='r'\nbase_port=5551\nserves=['hand']\n",
            "overlap",
        ),
        (
            "[nodes.a]\nfactory='r'\nbase_port=5550\nserves=['arm']\n[nodes.b]\nfactory='r'\nbase_port=5560\nserves=['arm']\n",
            "served by two nodes",
        ),
        (
            "[cell]\ncontrol_hz=0\n[nodes.a]\nfactory='r'\nbase_port=5550\nserves=['arm']\n",
            r"control_hz must be in \(0",
        ),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "cell.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        config.load(path)


def test_bad_overrides_and_factories() -> None:
    with pytest.raises(ConfigError, match=r"dotted\.key=value"):
        config.load(REFERENCE_CELL, ["no-equals-sign"])
    with pytest.raises(ConfigError, match="does not exist"):
        config.load("no/such/missing.toml")
    with pytest.raises(ConfigError, match="neither a file nor a shipped configuration"):
        config.load("missing.toml")
    with pytest.raises(ConfigError, match="cannot import"):
        config.resolve_factory("no_such_package.module:make")
    with pytest.raises(ConfigError, match="use one of"):
        config.resolve_factory("nonsense")
    with pytest.raises(ConfigError, match=r"hand_limits: unknown key \['upper'\]"):
        params.load(JointLimitParams, {"upper": [1.0]}, "hand_limits")


def test_every_verb_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"up", "node", "demo", "bench", "estop", "status", "keygen"} <= set(verbs)
    for verb in verbs:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([verb, "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_realtime_clock_counts_periods_and_reports_jitter() -> None:
    clock = RealTimeClock(0.002)
    t0 = time.monotonic()
    for _ in clock.ticks(50):
        pass
    elapsed = time.monotonic() - t0
    stats = clock.stats()
    assert elapsed >= 49 * 0.002  # it paces: a loaded machine can only make it slower
    assert stats.achieved_hz <= 500 * 1.02 and stats.achieved_hz == pytest.approx(stats.periods / elapsed, rel=0.1)
    assert 0 <= stats.jitter_p50_us <= stats.jitter_p99_us <= stats.jitter_max_us
    with pytest.raises(ValueError, match="positive"):
        RealTimeClock(0.0)
