"""The recorder: one append-only log per episode while recording, finished off the control thread.

The log is what a crash leaves behind (`dexscrew dataset recover` finishes it); an episode that ends
normally is finished from the copy of its rows the writer keeps in memory (about 7.7 KB a step with
tactile, in blocks reused across episodes: row_blocks.py), so finalisation does not read back and
re-check the file it has just written.

rec = Recorder("data/nut_square")          # creates or resumes into the dataset
ep = rec.begin(EpisodeMeta(task="nut", shape="square", cell="twin", cell_kind="twin", control_hz=20))
for each control step: ep.append(StepRecord(...))   # one write(), in the OS once it returns
handle = ep.end(success=True)              # returns at once; fsync, rename, index in the background
rec.close()                                # waits for every pending episode
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexscrew_sdk.recording.episode import write_episode
from dexscrew_sdk.recording.errors import RecordingError, SourceStoppedError, StepRecordError, StorageError
from dexscrew_sdk.recording.index import DatasetDir, DatasetLock, index_entry
from dexscrew_sdk.recording.log import END, EVENT, STEP, LogContents, LogWriter, frame, json_payload, read_log
from dexscrew_sdk.recording.row_blocks import BlockPool, RowBlocks
from dexscrew_sdk.recording.rows import RowBuilder, summarise
from dexscrew_sdk.recording.schema import FIELD_DOC, FORMAT_VERSION, STEP_DTYPE, EpisodeMeta, StepRecord, dtype_descr
from dexscrew_sdk.records import TaskProgress

log = logging.getLogger(__name__)
FSYNC_POLICIES = ("episode", "step")


@dataclass
class FinishedEpisode:
    index: int
    path: Path
    n_steps: int
    success: bool | None
    end_reason: str
    finalize_ms: float  # from end() until fsynced, renamed and in the index


class FinalizeHandle:
    """Completion of one episode's background finalisation."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: FinishedEpisode | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_s: float = 60.0) -> FinishedEpisode:
        if not self._done.wait(timeout_s):
            raise RecordingError(f"episode finalisation did not complete within {timeout_s} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _finish(self, result: FinishedEpisode | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._done.set()


class EpisodeWriter:
    """One episode being recorded. Call from the control thread only."""

    def __init__(self, rec: Recorder, index: int, meta: EpisodeMeta) -> None:
        self.rec = rec
        self.index = index
        self.meta = meta
        self.log_path = rec.dir.log_path(index)
        self.episode_uuid = str(uuid.uuid4())
        self.started_unix_s = time.time()
        self._rows = RowBuilder(meta, rec.source_timeout_s)
        self._last_step: StepRecord | None = None
        self._closed = False
        header = {
            "format_version": FORMAT_VERSION,
            "episode_index": index,
            "episode_uuid": self.episode_uuid,
            "started_unix_s": self.started_unix_s,
            "fsync": rec.fsync,
            "episode_meta": meta.to_dict(),
            "step_dtype": dtype_descr(STEP_DTYPE),
        }
        self._log = LogWriter(self.log_path, header, fsync_each=rec.fsync == "step")
        # What read_log would return for this log, kept as it is written (JSON as decoded from its bytes).
        self._header = json.loads(json_payload(header))
        self._row_store = RowBlocks(rec._pool)
        self._events: list[dict[str, Any]] = []
        self._end: dict[str, Any] | None = None

    @property
    def n_steps(self) -> int:
        return self._rows.n_rows

    def append(self, step: StepRecord) -> None:
        """Write one step (StepRecordError if malformed: nothing written). Raises SourceStoppedError
        after closing the episode when a source has published nothing for `source_timeout_s`."""
        self._require_open()
        row = self._rows.build(step)  # validates; raises before anything is written
        self._write(frame(STEP, row.tobytes()))
        self._row_store.append(row)
        self._rows.commit(step)
        self._last_step = step
        stopped = self._rows.stopped_sources(step.stamp_ns)
        if stopped:
            detail = ", ".join(f"{s} silent for {self._rows.silence_s(s, step.stamp_ns):.2f} s" for s in stopped)
            self.end(None, reason="source_stopped", detail={"sources": list(stopped), "why": detail})
            raise SourceStoppedError(
                f"episode {self.index} closed: {detail} (limit {self.rec.source_timeout_s} s); "
                "its rows stop there, nothing was padded",
                stopped,
            )

    def event(self, kind: str, **detail: Any) -> None:
        """A free-form event (IK failure details, operator notes) tied to the last step written."""
        self._require_open()
        if not isinstance(kind, str) or not kind:
            raise StepRecordError(f"event kind must be a non-empty string, got {kind!r}")
        step = -1 if self._last_step is None else self._last_step.step_index
        payload = json_payload({"kind": kind, "step_index": step, "detail": detail})
        self._write(frame(EVENT, payload))
        self._events.append(json.loads(payload))

    def source_stopped(self, source: str, detail: str = "") -> FinalizeHandle:
        """The session saw a device stop publishing (e.g. DeviceTimeoutError): close and mark the episode."""
        return self.end(None, reason="source_stopped", detail={"sources": [source], "why": detail})

    def end(
        self,
        success: bool | None,
        reason: str = "operator",
        progress: TaskProgress | None = None,
        detail: dict[str, Any] | None = None,
    ) -> FinalizeHandle:
        """Close the log and queue the finalisation; returns at once (the next episode may begin)."""
        self._require_open()
        if success is not None and not isinstance(success, bool):
            raise StepRecordError(f"success must be True, False or None, got {success!r}")
        if progress is None and self._last_step is not None:
            progress = self._last_step.progress
        end = {
            "success": success,
            "end_reason": str(reason),
            "end_detail": detail or {},
            "ended_unix_s": time.time(),
            "final_progress": None if progress is None else _progress_dict(progress),
        }
        payload = json_payload(end)
        self._write(frame(END, payload))
        self._end = json.loads(payload)
        self._close()
        handle = FinalizeHandle()
        self.rec._submit(self, handle, time.perf_counter())
        return handle

    def take_contents(self) -> LogContents:
        """The frames written, as `read_log` would return them from the log, the rows still in the
        writer's blocks: the taker releases them (`contents.rows.release()`) once it is done."""
        rows, self._row_store = self._row_store, RowBlocks(self.rec._pool)
        n = self._log.bytes_written
        return LogContents(self._header, rows, list(self._events), self._end, n, n)

    def discard(self) -> None:
        """Drop this attempt (re-record): its log is deleted, nothing reaches the dataset."""
        self._require_open()
        self._close()
        self.log_path.unlink(missing_ok=True)
        self._row_store.release()

    def _write(self, data: bytes) -> None:
        """A refused write may have left a torn frame: nothing may follow it, so the episode closes."""
        try:
            self._log.append(data)
        except StorageError as exc:
            self._close()
            exc.args = (f"{exc.args[0]} Episode {self.index} is closed with {self.n_steps} steps in its log.",)
            raise

    def _close(self) -> None:
        self._closed = True
        self._log.close()
        self.rec._active = None

    def _require_open(self) -> None:
        if self._closed:
            raise RecordingError(f"episode {self.index} is already ended or discarded")


class Recorder:
    """Writes episodes into a dataset folder; resumes into an existing one; one writer per folder."""

    def __init__(
        self,
        dataset_dir: str | Path,
        fsync: str = "episode",
        source_timeout_s: float = 1.0,
        on_finished: Callable[[FinishedEpisode], None] | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise StepRecordError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if not source_timeout_s > 0:
            raise StepRecordError(f"source_timeout_s must be positive, got {source_timeout_s!r}")
        self.dir = DatasetDir(Path(dataset_dir))
        self.fsync = fsync
        self.source_timeout_s = float(source_timeout_s)
        self.on_finished = on_finished
        self.dir.create()
        self._lock = DatasetLock(self.dir.root)
        self._lock.acquire()
        self.partial_logs = self.dir.log_files()  # left by a crash: `dexscrew dataset recover`
        if self.partial_logs:
            n = len(self.partial_logs)
            log.warning("%d unfinished episode logs in %s: run `dexscrew dataset recover`", n, dataset_dir)
        self._next = self.dir.next_index()
        self._active: EpisodeWriter | None = None
        self._pool = BlockPool(STEP_DTYPE)  # rows of ended episodes' blocks serve the next ones
        self._queue: queue.Queue[tuple[EpisodeWriter, FinalizeHandle, float] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="episode-finaliser", daemon=True)
        self._worker.start()
        self._closed = False
        self.software = software_identity()
        self.finished: list[FinishedEpisode] = []
        self.errors: list[BaseException] = []
        atexit.register(self.close)

    def begin(self, meta: EpisodeMeta) -> EpisodeWriter:
        if self._closed:
            raise RecordingError("the recorder is closed")
        if self._active is not None:
            raise RecordingError(f"episode {self._active.index} is still being recorded: end() or discard() it first")
        meta.validate()
        if not meta.software_version:
            meta.software_version = self.software["version"]
        if not meta.git_commit:
            meta.git_commit = self.software["git_commit"]
        ep = EpisodeWriter(self, self._next, meta)
        self._next += 1
        self._active = ep
        return ep

    def close(self, timeout_s: float = 120.0) -> None:
        """Wait for pending finalisations, then release the dataset. An open episode stays a log."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._queue.put(None)
        self._worker.join(timeout_s)
        self._lock.release()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, ep: EpisodeWriter, handle: FinalizeHandle, t0: float) -> None:
        self._queue.put((ep, handle, t0))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            ep, handle, t0 = item
            contents = ep.take_contents()
            try:
                result = finalize_log(self.dir, ep.log_path, t0, contents=contents)
            except BaseException as exc:  # reported through the handle; the log stays recoverable
                self.errors.append(exc)
                handle._finish(None, exc)
                continue
            finally:
                contents.rows.release()
            self.finished.append(result)
            handle._finish(result, None)
            if self.on_finished is not None:
                self.on_finished(result)


def finalize_log(
    dataset: DatasetDir,
    log_path: Path,
    t0: float | None = None,
    recovered: bool = False,
    contents: LogContents | None = None,
) -> FinishedEpisode:
    """Log -> episode file (atomic), index updated, log removed. Used by the recorder (with the
    writer's `contents`) and by recover (which reads them from the log)."""
    t0 = time.perf_counter() if t0 is None else t0
    contents = read_log(log_path) if contents is None else contents
    h = contents.header
    end = contents.end or {
        "success": None,
        "end_reason": "recovered",
        "end_detail": {"damage": contents.damage or "no end record (the recording process stopped)"},
        "final_progress": None,
    }
    meta = {
        "format_version": FORMAT_VERSION,
        "episode_index": h["episode_index"],
        "episode_uuid": h["episode_uuid"],
        "started_unix_s": h["started_unix_s"],
        "fsync": h.get("fsync"),
        **h["episode_meta"],
        **end,
        **summarise(contents.rows, h["episode_meta"]),
        "recovered": recovered,
        "step_dtype": h["step_dtype"],
        "field_doc": FIELD_DOC,
    }
    meta["final_progress_ratio"] = (meta.get("final_progress") or {}).get("ratio")
    path = dataset.episode_path(int(h["episode_index"]))
    write_episode(path, meta, contents.rows, contents.events)
    dataset.add_to_index(index_entry(path, meta))
    log_path.unlink(missing_ok=True)
    return FinishedEpisode(
        int(h["episode_index"]),
        path,
        int(meta["n_steps"]),
        end.get("success"),
        str(end.get("end_reason")),
        (time.perf_counter() - t0) * 1e3,
    )


def _progress_dict(p: TaskProgress) -> dict[str, Any]:
    return {
        "turns_done": float(p.turns_done),
        "turns_required": float(p.turns_required),
        "fastened": bool(p.fastened),
        "time_s": float(p.time_s),
        "ratio": float(p.ratio),
    }


_SOFTWARE: dict[str, str] = {}


def software_identity() -> dict[str, str]:
    """The SDK's version and the git commit of its checkout ("unknown" outside one)."""
    if not _SOFTWARE:
        from dexscrew_sdk import __version__

        commit = "unknown"
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
            )
            if out.returncode == 0:
                commit = out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
        _SOFTWARE.update(version=__version__, git_commit=commit)
    return dict(_SOFTWARE)
