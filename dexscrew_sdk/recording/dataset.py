"""Reading and checking a dataset folder (numpy only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexscrew_sdk.recording.episode import Episode, load_episode, parse_episode_index
from dexscrew_sdk.recording.errors import DatasetError, EpisodeFileError
from dexscrew_sdk.recording.index import DatasetDir
from dexscrew_sdk.recording.log import read_log


@dataclass
class CheckReport:
    """What `dataset check` found; `ok` only if every episode and log is intact."""

    episodes_ok: list[str] = field(default_factory=list)
    corrupted: dict[str, str] = field(default_factory=dict)  # file -> why
    partial_logs: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> {steps, damage}
    leftovers: list[str] = field(default_factory=list)  # temp files of an interrupted write
    index_rebuilt: bool = False

    @property
    def ok(self) -> bool:
        return not self.corrupted and not self.partial_logs

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "episodes_ok": len(self.episodes_ok),
            "corrupted": self.corrupted,
            "partial_logs": self.partial_logs,
            "leftover_temp_files": self.leftovers,
            "index_rebuilt": self.index_rebuilt,
        }


class Dataset:
    """A folder of finished episodes. `Dataset(root)[i]` loads episode i (its file index, not position)."""

    def __init__(self, root: str | Path) -> None:
        self.dir = DatasetDir(Path(root))
        if not self.dir.exists():
            raise DatasetError(f"{root} is not a dataset folder (no episodes/ inside); record into it first")

    @property
    def root(self) -> Path:
        return self.dir.root

    def index(self) -> dict[str, Any]:
        return self.dir.read_index()

    def entries(self) -> list[dict[str, Any]]:
        return list(self.index()["episodes"])

    def episode_indices(self) -> list[int]:
        return [int(e["episode_index"]) for e in self.entries()]

    def __len__(self) -> int:
        return len(self.entries())

    def __getitem__(self, episode_index: int) -> Episode:
        path = self.dir.episode_path(int(episode_index))
        if not path.exists():
            raise DatasetError(f"{self.root}: no episode {episode_index} (have {self.episode_indices()})")
        return load_episode(path)

    def __iter__(self) -> Iterator[Episode]:
        for i in self.episode_indices():
            yield self[i]

    def info(self) -> dict[str, Any]:
        entries = self.entries()
        by_task: dict[str, dict[str, Any]] = {}
        for e in entries:
            key = f"{e['task']}/{e['shape']}"
            t = by_task.setdefault(key, {"episodes": 0, "steps": 0, "success": 0, "failure": 0, "unlabelled": 0})
            t["episodes"] += 1
            t["steps"] += int(e["n_steps"])
            t[{True: "success", False: "failure", None: "unlabelled"}[e["success"]]] += 1
        return {
            "root": str(self.root),
            "dataset_uuid": self.dir.identity().get("dataset_uuid"),
            "episodes": len(entries),
            "steps": sum(int(e["n_steps"]) for e in entries),
            "duration_s": round(sum(float(e["duration_s"]) for e in entries), 3),
            "by_task": by_task,
            "partial_logs": [p.name for p in self.dir.log_files()],
            "unreadable": self.index().get("unreadable", []),
        }

    def check(self) -> CheckReport:
        """Read every member of every episode (CRCs, shapes, dtypes) and every partial log."""
        report = CheckReport()
        for p in self.dir.episode_files():
            try:
                meta = load_episode(p).meta
                if int(meta["episode_index"]) != parse_episode_index(p):
                    raise EpisodeFileError(f"{p}: holds episode {meta['episode_index']}, its name says otherwise")
                report.episodes_ok.append(p.name)
            except EpisodeFileError as exc:
                report.corrupted[p.name] = str(exc)
        for p in self.dir.log_files():
            try:
                c = read_log(p)
                report.partial_logs[p.name] = {"steps": len(c.rows), "ended": c.end is not None, "damage": c.damage}
            except EpisodeFileError as exc:
                report.partial_logs[p.name] = {"steps": 0, "ended": False, "damage": str(exc)}
        report.leftovers = sorted(p.name for p in self.dir.episodes_dir.iterdir() if p.name.endswith(".tmp"))
        before = self.dir.index_path.read_text() if self.dir.index_path.exists() else ""
        self.dir.read_index()
        after = self.dir.index_path.read_text() if self.dir.index_path.exists() else ""
        report.index_rebuilt = before != after
        return report
