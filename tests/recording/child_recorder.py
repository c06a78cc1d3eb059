"""A recording process for the fault tests: `python -m tests.recording.child_recorder ROOT REPORT ...`.

It records `--finished` complete episodes, then one episode of `--steps` steps,
appending one JSON line to REPORT after each step it flushed and after every
finished episode (so the parent can wait on facts, not on time), and a last line
with the error if the storage refused a write. Options set an RLIMIT_FSIZE.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

from dexscrew_sdk.recording import Recorder, StorageError, load_episode
from dexscrew_sdk.recording.log import read_log
from dexscrew_sdk.recording.synthetic import synthetic_meta, synthetic_steps


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("root", type=Path)
    p.add_argument("report", type=Path)
    p.add_argument("--finished", type=int, default=2)
    p.add_argument("--finished-steps", type=int, default=30)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--fsize-limit-bytes", type=int, default=0)
    p.add_argument("--verify", action="store_true", help="after a storage error, check the files from inside")
    a = p.parse_args()
    if a.fsize_limit_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (a.fsize_limit_bytes, a.fsize_limit_bytes))
    out = open(a.report, "a", buffering=1)  # noqa: SIM115 - line-buffered for the whole run

    def say(**kw: object) -> None:
        out.write(json.dumps(kw) + "\n")
        out.flush()
        os.fsync(out.fileno())

    finished: list[str] = []
    flushed = 0
    try:
        with Recorder(a.root) as rec:
            for i in range(a.finished):
                ep = rec.begin(synthetic_meta(seed=i))
                for s in synthetic_steps(a.finished_steps, seed=i):
                    ep.append(s)
                done = ep.end(success=True).wait()
                finished.append(str(done.path))
                say(finished=done.index, path=str(done.path), steps=done.n_steps)
            ep = rec.begin(synthetic_meta(seed=99))
            say(partial=str(ep.log_path))
            for s in synthetic_steps(a.steps, seed=99):
                ep.append(s)
                flushed += 1
                say(flushed=flushed)
            say(done=True)
    except StorageError as exc:
        report: dict[str, object] = {"storage_error": str(exc), "errno": exc.errno, "flushed": flushed}
        if a.verify:  # the filesystem may vanish with this process (a private mount): look now
            report["finished_intact"] = [len(load_episode(Path(f))) for f in finished]
            logs = sorted((a.root / "episodes").glob("*.log"))
            report["partial_rows"] = [len(read_log(p).rows) for p in logs]
            report["leftover_tmp"] = sorted(p.name for p in (a.root / "episodes").glob(".*.tmp"))
        say(**report)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
