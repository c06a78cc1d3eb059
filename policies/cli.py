"""Verbs of the learning package: `dexscrew train-rl`, `dexscrew export-skill` and the BC verbs (policies.bc.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dexscrew_sdk.errors import DexscrewError


def _train_rl(args: argparse.Namespace) -> int:
    from policies.rl.checkpoint import CheckpointError
    from policies.rl.train import run

    try:
        return run(args)
    except (CheckpointError, ImportError) as exc:
        raise DexscrewError(str(exc)) from None


def _export_skill(args: argparse.Namespace) -> int:
    from policies.rl.checkpoint import CheckpointError
    from policies.rl.export import export_skill

    try:
        pt = export_skill(args.checkpoint, args.out)
    except CheckpointError as exc:
        hint = "export needs a student checkpoint: dexscrew train-rl student|finetune ..."
        raise DexscrewError(f"{exc} ({hint})") from None
    print(f"wrote {pt} and {pt.with_suffix('.json')}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from policies.rl.train import add_train_args

    p = sub.add_parser("train-rl", help="train the finger-rotation teacher, student, or fine-tune the student")
    add_train_args(p)
    p.set_defaults(func=_train_rl)

    p = sub.add_parser("export-skill", help="export a student checkpoint as a TorchScript skill + metadata JSON")
    p.add_argument(
        "checkpoint", type=Path, help="student checkpoint (runs/rl/<task>_student_s<seed>/checkpoint_last.pt)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. policies/skills/nut")
    p.set_defaults(func=_export_skill)

    from policies.bc.cli import register as register_bc

    register_bc(sub)
