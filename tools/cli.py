"""Operator verbs: `calibrate hand|tactile|arm`, `tactile-check`, `bus-monitor` (and `dataset plot`).

Each tool module has `add_arguments(parser)` and `run(args) -> exit code`, and
is runnable on its own as `python -m tools.<module>` with the same arguments
(`standalone`). The older `calibrate tactile-zero` and `calibrate joint-offsets`
verbs remain as aliases of `calibrate tactile` and `calibrate hand`. `dataset
plot` joins the recording package's `dataset` verb (tools.dataset_plot.register_plot).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dexscrew_sdk.cli import add_config_args

TOOL_MODULES = ("hand_calibration", "tactile_calibration", "arm_check", "tactile_check", "bus_monitor", "dataset_plot")

# calibrate WHAT -> (tool module, help, aliases)
CALIBRATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "hand": ("tools.hand_calibration", "hand joint offsets from the zero pose or a jig, verified", ("joint-offsets",)),
    "tactile": (
        "tools.tactile_calibration",
        "unloaded baseline and noise floor of every taxel, drift",
        ("tactile-zero",),
    ),
    "arm": ("tools.arm_check", "the controller's TCP and payload, limits and workspace, a slow move home", ()),
}
# top-level verb -> (tool module, help)
VERBS: dict[str, tuple[str, str]] = {
    "tactile-check": ("tools.tactile_check", "dead, stuck, saturated and noisy taxels; the press test; pictures"),
    "bus-monitor": ("tools.bus_monitor", "rate, latency, sequence gaps, size and bandwidth of every stream"),
}


def _add(sub: argparse._SubParsersAction, name: str, module_name: str, help_text: str, aliases=()) -> None:
    module = importlib.import_module(module_name)
    p = sub.add_parser(name, help=help_text, aliases=list(aliases), description=module.__doc__.split("\n\n")[0])
    if getattr(module, "TAKES_CONFIG", True):
        add_config_args(p)
    module.add_arguments(p)
    p.set_defaults(func=module.run)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="calibrate the hand, the fingertip pads or check the arm's setup")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    for name, (module_name, help_text, aliases) in CALIBRATIONS.items():
        _add(what, name, module_name, help_text, aliases)
    for name, (module_name, help_text) in VERBS.items():
        _add(sub, name, module_name, help_text)


def standalone(tool: str, argv: list[str] | None = None) -> int:
    """Run one tool as its own program: `python -m tools.bus_monitor CONFIG ...`."""
    from dexscrew_sdk.cli import main as sdk_main

    prefix = {"hand": ["calibrate", "hand"], "tactile": ["calibrate", "tactile"], "arm": ["calibrate", "arm"]}
    prefix.update({v: [v] for v in VERBS} | {"plot": ["dataset", "plot"]})
    return sdk_main(prefix[tool] + list(sys.argv[1:] if argv is None else argv))
