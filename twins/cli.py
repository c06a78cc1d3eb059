"""`dexscrew twin serve CONFIG` and `dexscrew twin snapshot --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _snapshot(args: argparse.Namespace) -> int:
    from twins.snapshot import snapshot

    for path in snapshot(args.out, args.task, args.shape, args.seed):
        print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from dexscrew_sdk.cli import _cmd_node, add_config_args

    twin = sub.add_parser("twin", help="the PyBullet twin of the cell: serve it, or take pictures")
    verbs = twin.add_subparsers(dest="twin_verb", required=True, metavar="SUBCOMMAND")
    p = verbs.add_parser("serve", help="serve the twin node of a configuration (= dexscrew node CONFIG --name twin)")
    add_config_args(p)
    p.add_argument("--name", default="twin", help="node name in the configuration (default: twin)")
    p.set_defaults(func=_cmd_node)  # the same verb under the twin's name
    p = verbs.add_parser("snapshot", help="write PNGs of the scene from a few viewpoints and a tactile frame")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--task", default="nut", help="nut | screwdriver")
    p.add_argument("--shape", default="triangular", help="nut: triangular square hexagonal cross; handle: octagon ...")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_snapshot)
