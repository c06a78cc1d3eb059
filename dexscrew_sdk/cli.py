"""The `dexscrew` command line: one entry point, one verb per job.

Verbs contributed by the other packages (twins, drivers, policies, tools) are
listed in `PLUGIN_COMMANDS` and imported only when the command line is built,
so importing `dexscrew_sdk` never imports them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dexscrew_sdk.errors import DexscrewError

# verb modules outside the core: each has register(subparsers)
PLUGIN_COMMANDS: tuple[str, ...] = (
    "twins.cli",
    "drivers.cli",
    "policies.cli",
    "dexscrew_sdk.recording.cli",  # before tools.cli: it adds `dataset plot` to this verb
    "tools.cli",
    "dexscrew_sdk.evaluation.cli",
)
# `dexscrew bench NAME`: NAME -> "module:function(argparse.Namespace) -> dict"
BENCHES: dict[str, str] = {
    "bus": "dexscrew_sdk.bench_bus:run",
    "twin": "twins.bench:run",
    "ur5e": "drivers.bench_ur5e:run",
    "rl": "policies.rl.bench:run",
    "bc": "policies.bc.bench:run",
    "eval": "dexscrew_sdk.evaluation.bench:run",
    "record": "dexscrew_sdk.recording.bench:run",
}


def add_config_args(p: argparse.ArgumentParser) -> None:
    """The one way every verb takes a cell configuration."""
    p.add_argument(
        "config",
        type=Path,
        help="cell configuration: a TOML file, or the bare name of a shipped one (twin_cell, reference_cell, ...)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration value, e.g. --set nodes.cell.params.seed=3 (repeatable)",
    )


def _cmd_up(args: argparse.Namespace) -> int:
    from dexscrew_sdk import config
    from dexscrew_sdk.launcher import Launcher

    cfg = config.load(args.config, args.overrides)
    return Launcher(cfg, args.config, args.overrides).run_forever()


def _cmd_node(args: argparse.Namespace) -> int:
    from dexscrew_sdk import config
    from dexscrew_sdk.node_process import run_node

    run_node(config.load(args.config, args.overrides), args.name)
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from dexscrew_sdk.bus import generate_cell_keys

    node_dir, client_dir = generate_cell_keys(args.directory, args.nodes, args.client)
    print(
        f"wrote node keys {args.nodes} and the authorised client's public key to {node_dir} (copy it to the node's "
        f"machine), and client {args.client!r}'s secret key with the nodes' public keys to {client_dir} (mode 0700, "
        f'for the client\'s machine); set cell.curve_dir = "{args.directory}" in the cell configuration'
    )
    return 0


def _cmd_estop(args: argparse.Namespace) -> int:
    from dexscrew_sdk.cell import Cell

    with Cell.connect(args.config, args.overrides) as cell:
        cell.emergency_stop()
    print("emergency stop sent to every arm and hand of the cell")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from dexscrew_sdk import config
    from dexscrew_sdk.remote import NodeClient

    cfg = config.load(args.config, args.overrides)
    for name in cfg.nodes:
        client = NodeClient(cfg.endpoints(name), [], curve=cfg.client_curve(name))
        try:
            print(
                json.dumps(
                    {
                        "node": name,
                        "ping": client.call("", "ping", timeout_s=1.0),
                        "stats": client.call("", "stats", timeout_s=1.0),
                    }
                )
            )
        except DexscrewError as exc:
            print(json.dumps({"node": name, "error": str(exc)}))
        finally:
            client.close()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    target = BENCHES[args.name]
    module_name, _, attr = target.partition(":")
    try:
        run: Callable[[argparse.Namespace], dict[str, Any]] = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as exc:
        raise DexscrewError(f"benchmark {args.name!r} is not available in this installation: {exc}") from None
    result = run(args)
    print(json.dumps(result, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexscrew", description="dexscrew SDK: UR5e + XHand + touch, twins and real")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("up", help="start the nodes of a cell configuration and supervise them")
    add_config_args(p)
    p.set_defaults(func=_cmd_up)

    p = sub.add_parser("node", help="serve one node of a cell configuration (what `up` starts)")
    add_config_args(p)
    p.add_argument("--name", required=True, help="node name in the configuration")
    p.set_defaults(func=_cmd_node)

    p = sub.add_parser("keygen", help="generate CURVE keys for nodes that listen on a network")
    p.add_argument("directory", type=Path)
    p.add_argument("--nodes", nargs="+", required=True, help="node names (one key pair each)")
    p.add_argument("--client", default="client", help="client key name")
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser("estop", help="emergency-stop every arm and hand of a running cell")
    add_config_args(p)
    p.set_defaults(func=_cmd_estop)

    p = sub.add_parser("status", help="ping every node of a running cell and print its counters")
    add_config_args(p)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("bench", help="run a benchmark; prints one JSON object as its last line")
    p.add_argument("name", choices=sorted(BENCHES))
    p.add_argument("--quick", action="store_true", help="shorter run (smoke test, not for reporting)")
    p.add_argument("--skill", default=None, metavar="shipped|official|PATH", help="benches that run a finger skill")
    p.add_argument("--episodes", type=int, default=None, help="benches that record episodes: episodes per case")
    p.set_defaults(func=_cmd_bench)

    from dexscrew_sdk import demo

    demo.register(sub)
    from dexscrew_sdk.teleop import cli as teleop_cli

    teleop_cli.register(sub)

    for module_name in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DexscrewError as exc:
        print(f"dexscrew {args.verb}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
