"""`dexscrew dataset VERB`: info, check, recover, merge, filter, trim, delete, replay, export, view."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dexscrew_sdk.recording import ops
from dexscrew_sdk.recording.dataset import Dataset
from dexscrew_sdk.recording.errors import DatasetError

# Sub-verbs contributed by other packages: "module:function(dataset_subparsers)", imported lazily.
DATASET_PLUGINS: tuple[str, ...] = ("tools.dataset_plot:register_plot",)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=1, default=str))


@contextmanager
def _progress(total: int, desc: str) -> Iterator[Callable[[], None]]:
    """A tqdm bar on stderr when tqdm is installed, else nothing."""
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        yield lambda: None
        return
    bar = tqdm(total=total, desc=desc, unit="episode", file=sys.stderr, leave=False)
    try:
        yield lambda: bar.update(1)
    finally:
        bar.close()


def _bool(text: str) -> bool:
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def _cmd_info(a: argparse.Namespace) -> int:
    ds = Dataset(a.dataset)
    out = ds.info()
    if a.episodes:
        out["episode_list"] = ds.entries()
    _print(out)
    return 0


def _cmd_check(a: argparse.Namespace) -> int:
    report = Dataset(a.dataset).check()
    _print(report.to_dict())
    for name, why in report.corrupted.items():
        print(f"CORRUPTED {name}: {why}", file=sys.stderr)
    for name, log in report.partial_logs.items():
        print(
            f"UNFINISHED {name}: {log['steps']} steps recoverable ({log['damage'] or 'no end record'})", file=sys.stderr
        )
    if report.partial_logs:
        print(f"run `dexscrew dataset recover {a.dataset}` to finish the unfinished episodes", file=sys.stderr)
    return 0 if report.ok else 1


def _cmd_recover(a: argparse.Namespace) -> int:
    r = ops.recover(a.dataset)
    _print(
        {
            "recovered": r.recovered,
            "stale_logs_removed": r.stale_logs_removed,
            "temp_files_removed": r.temp_files_removed,
            "failed": r.failed,
        }
    )
    return 1 if r.failed else 0


def _cmd_merge(a: argparse.Namespace) -> int:
    with _progress(sum(len(Dataset(s)) for s in a.sources), "merge") as tick:
        written = ops.merge(a.sources, a.out, on_episode=tick)
    _print({"out": str(a.out), "episodes_written": written})
    return 0


def _cmd_filter(a: argparse.Namespace) -> int:
    written = ops.filter_dataset(a.dataset, a.out, a.success, a.task, a.shape, a.min_steps, tuple(a.exclude_reason))
    if not written:
        print(f"no episode of {a.dataset} matched; {a.out} holds none from it", file=sys.stderr)
    _print({"out": str(a.out), "episodes_written": written})
    return 0


def _cmd_trim(a: argparse.Namespace) -> int:
    removed = ops.trim(a.dataset, a.out, a.tol, a.min_keep)
    _print({"out": str(a.out), "removed_head_tail_steps": {str(k): v for k, v in removed.items()}})
    return 0


def _cmd_delete(a: argparse.Namespace) -> int:
    _print({"deleted": ops.delete(a.dataset, a.episodes)})
    return 0


def _cmd_replay(a: argparse.Namespace) -> int:
    from dexscrew_sdk import config as config_mod
    from dexscrew_sdk.cell import Cell
    from dexscrew_sdk.launcher import Launcher
    from dexscrew_sdk.recording.replay import replay_episode

    ep = Dataset(a.dataset)[a.episode]
    cfg = config_mod.load(a.config, a.overrides)
    launcher = Launcher(cfg, a.config, a.overrides) if a.launch else None
    try:
        if launcher is not None:
            launcher.start()
        with Cell.connect(cfg) as cell:
            result = replay_episode(cell, ep, reset_world=not a.no_reset)
    finally:
        if launcher is not None:
            launcher.shutdown()
    _print(result.to_dict())
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from dexscrew_sdk.recording.lerobot import export_lerobot

    def pick(e: dict[str, Any]) -> bool:
        return (a.success is None or e["success"] is a.success) and (a.task is None or e["task"] == a.task)

    with _progress(len(Dataset(a.dataset)), "export") as tick:
        _print(export_lerobot(a.dataset, a.out, pick, a.overwrite, on_episode=tick))
    return 0


def _cmd_view(a: argparse.Namespace) -> int:
    from dexscrew_sdk.recording.viewer import view_episode

    path = view_episode(Dataset(a.dataset)[a.episode], a.save, a.spawn)
    _print({"episode": a.episode, "saved": None if path is None else str(path)})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from dexscrew_sdk.cli import add_config_args

    p = sub.add_parser("dataset", help="inspect, repair, edit, replay, export and view recorded datasets")
    dsub = p.add_subparsers(dest="dataset_verb", required=True, metavar="DATASET_VERB")

    def verb(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        q = dsub.add_parser(name, help=help_text)
        q.set_defaults(func=func)
        return q

    q = verb("info", _cmd_info, "episodes, steps and labels per task")
    q.add_argument("dataset", type=Path)
    q.add_argument("--episodes", action="store_true", help="also list every episode's summary")
    q = verb("check", _cmd_check, "read every episode and log; exit 1 naming any corrupted or unfinished file")
    q.add_argument("dataset", type=Path)
    q = verb("recover", _cmd_recover, "turn unfinished logs (a crash) into episodes up to their last flushed step")
    q.add_argument("dataset", type=Path)
    q = verb("merge", _cmd_merge, "copy the episodes of several datasets into OUT (renumbered, provenance kept)")
    q.add_argument("out", type=Path)
    q.add_argument("sources", type=Path, nargs="+")
    q = verb("filter", _cmd_filter, "copy the matching episodes into a new dataset")
    q.add_argument("dataset", type=Path)
    q.add_argument("out", type=Path)
    q.add_argument("--success", type=_bool, default=None, help="true|false: keep only this label")
    q.add_argument("--task")
    q.add_argument("--shape")
    q.add_argument("--min-steps", type=int, default=0)
    q.add_argument("--exclude-reason", action="append", default=[], help="drop episodes ended for this reason")
    q = verb("trim", _cmd_trim, "copy every episode without its idle head and tail into a new dataset")
    q.add_argument("dataset", type=Path)
    q.add_argument("out", type=Path)
    q.add_argument("--tol", type=float, default=ops.IDLE_TOLERANCE, help="idle if nothing moves more (rad)")
    q.add_argument("--min-keep", type=int, default=ops.MIN_KEEP_STEPS)
    q = verb("delete", _cmd_delete, "delete episodes by index")
    q.add_argument("dataset", type=Path)
    q.add_argument("--episodes", type=int, nargs="+", required=True)
    q = verb("replay", _cmd_replay, "open-loop replay of an episode's actions on a cell (expert replay)")
    q.add_argument("dataset", type=Path)
    q.add_argument("--episode", type=int, required=True)
    add_config_args(q)
    q.add_argument("--launch", action="store_true", help="start the cell's nodes too (else connect to a running cell)")
    q.add_argument("--no-reset", action="store_true", help="do not reset the twin's scene to the recorded one")
    q = verb("export", _cmd_export, "write a LeRobotDataset v3.0 folder (needs the [export] extra)")
    q.add_argument("dataset", type=Path)
    q.add_argument("out", type=Path)
    q.add_argument("--success", type=_bool, default=None, help="true|false: export only this label")
    q.add_argument("--task")
    q.add_argument("--overwrite", action="store_true")
    q = verb("view", _cmd_view, "show an episode in rerun and/or save it as .rrd (needs the [viewer] extra)")
    q.add_argument("dataset", type=Path)
    q.add_argument("--episode", type=int, required=True)
    q.add_argument("--save", type=Path, help="write an .rrd file")
    q.add_argument("--spawn", action="store_true", help="open the rerun viewer")
    for target in DATASET_PLUGINS:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        getattr(module, attr)(dsub)


__all__ = ["DATASET_PLUGINS", "DatasetError", "register"]
