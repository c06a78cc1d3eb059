"""`dexscrew demo`: the whole method on the embedded twin, in one command.

record demonstrations (scripted operator + shipped skills) -> train the four BC
variants per task -> evaluate them against the baselines -> report folder.
Every step is a `dexscrew` command run as its own process (written to
commands.md so each can be rerun alone); finished steps are kept in
pipeline.json, so an interrupted demo resumes from its last finished step.
A stage that is not part of this installation stops the demo before it starts,
naming the stage: results are never faked.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dexscrew_sdk.errors import DexscrewError
from dexscrew_sdk.evaluation import catalog, seeds
from dexscrew_sdk.evaluation.results import write_json_atomic

VARIANTS: dict[str, list[str]] = {  # BC variant -> train-bc flags (K = 5 is the paper's history)
    "bc": ["--no-touch", "--history", "1"],
    "bc_touch": ["--history", "1"],
    "bc_hist": ["--no-touch", "--history", "5"],
    "bc_touch_hist": ["--history", "5"],
}
REQUIRED_VERBS: dict[str, str] = {"record": "recording demonstrations", "train-bc": "BC training", "eval": "evaluation"}


class StageMissing(DexscrewError):
    """A stage of the pipeline is not available in this installation."""


class StepFailed(DexscrewError):
    """A step's command exited with an error; its log says why. Rerun the demo to resume from it."""


@dataclass
class DemoSize:
    demos_per_object: dict[str, int] = field(default_factory=lambda: {"nut": 6, "screwdriver": 6})
    epochs: int = 20
    preset: str = "default"
    trials: int = 3
    perturbation_trials: int = 1
    perturbation_objects: list[str] = field(default_factory=lambda: ["square", "octagon"])
    turns_required: float = 1.0  # the twin's full fastening, in turns
    demo_seconds: dict[str, float] = field(default_factory=lambda: {"nut": 40.0, "screwdriver": 40.0})
    trial_seconds: dict[str, float] = field(default_factory=lambda: {"nut": 20.0, "screwdriver": 20.0})
    all_episodes: bool = False  # unfiltered BC: train and replay on demonstrations not labelled successful
    skill: str = "shipped"  # the finger skill of recording and the skill baselines: shipped | official | PATH


def paper_size(epochs: int | None = None, preset: str | None = None) -> DemoSize:
    """The paper's counts: 50 demos per seen nut shape, 72 screwdriver demos, 10 trials, 200 epochs."""
    return DemoSize(
        demos_per_object={"nut": 50, "screwdriver": 36},  # 36 per handle = 72
        epochs=200 if epochs is None else epochs,
        preset="paper" if preset is None else preset,
        trials=10,
        perturbation_trials=10,
        perturbation_objects=[o.shape for o in catalog.OBJECTS],
        turns_required=4.0,
        demo_seconds={"nut": 150.0, "screwdriver": 200.0},
        trial_seconds={"nut": 150.0, "screwdriver": 240.0},
    )


@dataclass
class Step:
    name: str
    stage: str  # record | train-bc | eval
    argv: list[str]  # after `dexscrew`
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return (env + " " if env else "") + "dexscrew " + shlex.join(self.argv)


def plan_steps(out: Path, size: DemoSize, config: str, workers: int) -> list[list[list[Step]]]:
    """Groups run one after the other; a group's chains run in parallel; a chain's steps in order."""
    from dexscrew_sdk.ports import free_base_port

    twin = [f"nodes.twin.params.turns_required={size.turns_required}"]
    record: list[list[Step]] = []
    for t, task in enumerate(("nut", "screwdriver")):
        chain = []
        port = [f"nodes.twin.base_port={free_base_port()}"]  # the two chains' twin nodes run side by side
        for k, shape in enumerate(catalog.seen_shapes(task)):
            n = size.demos_per_object[task]
            argv = ["record", "--cell", config, "--operator", "scripted", "--task", task, "--shape", shape,
                    "--randomised", "--seed-index", str((2 * t + k) * 10_000), "--episodes", str(n),
                    "--seconds", f"{size.demo_seconds[task]:g}", "--out", str(out / "data" / task),
                    "--operator-seed", str(2 * t + k), "--skill", size.skill]  # fmt: skip
            for o in twin + port:
                argv += ["--set", o]
            chain.append(Step(f"record {task} {shape}", "record", argv))
        record.append(chain)
    one_thread = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two trainings share two cores
    train = []
    for i, (variant, flags) in enumerate(VARIANTS.items()):
        for task in ("nut", "screwdriver"):
            argv = ["train-bc", str(out / "data" / task), "--out", str(out / "bc" / f"{task}_{variant}"),
                    "--task", task, "--epochs", str(size.epochs), "--preset", size.preset,
                    "--seed", str(seeds.BC_TRAINING.seed(i)), "--workers", "0", "--no-progress", *flags,
                    *(["--all-episodes"] if size.all_episodes else [])]  # fmt: skip
            train.append([Step(f"train {task} {variant}", "train-bc", argv, one_thread)])
    argv = ["eval", config, "--out", str(out / "report"), "--trials", str(size.trials), "--workers", str(workers),
            "--max-time", ",".join(f"{k}={v:g}" for k, v in size.trial_seconds.items()),
            "--perturbation-trials", str(size.perturbation_trials),
            "--perturbation-objects", *size.perturbation_objects,
            "--demos", str(out / "data" / "nut"), "--demos", str(out / "data" / "screwdriver"), "--skill", size.skill,
            *(["--all-episodes"] if size.all_episodes else [])]  # fmt: skip
    for variant in VARIANTS:
        for task in ("nut", "screwdriver"):
            argv += ["--checkpoint", f"{variant}:{task}={out / 'bc' / f'{task}_{variant}' / 'checkpoint_best.pt'}"]
    for o in twin:
        argv += ["--set", o]
    return [record, train, [[Step("evaluate", "eval", argv)]]]


def preflight() -> None:
    """Every stage must be installed before the first step runs; name the ones that are not."""
    from dexscrew_sdk.cli import build_parser
    from dexscrew_sdk.evaluation.methods import BC_DEPLOY_MODULE

    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "verb").choices  # argparse lists them nowhere else
    missing = [f"{what} (`dexscrew {verb}`)" for verb, what in REQUIRED_VERBS.items() if verb not in verbs]
    if _missing_module(BC_DEPLOY_MODULE):
        missing.append(f"BC deployment on the cell ({BC_DEPLOY_MODULE})")
    if missing:
        raise StageMissing("the demo cannot run: missing stage(s): " + "; ".join(missing))


def _missing_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


class Pipeline:
    def __init__(self, out: Path, size: DemoSize, config: str, workers: int, say: Callable[[str], None]) -> None:
        self.out, self.size, self.config, self.workers, self.say = Path(out), size, config, workers, say
        self.state_path = self.out / "pipeline.json"
        self.groups = plan_steps(self.out, size, config, workers)

    def state(self) -> dict[str, Any]:
        if self.state_path.exists():
            return json.loads(self.state_path.read_text())
        return {"size": asdict(self.size), "done": {}}

    def write_commands(self) -> Path:
        lines = ["# Every step of this demo as its own command (run from the repository root)", ""]
        for g, group in enumerate(self.groups, 1):
            lines.append(f"## group {g} (chains may run in parallel)")
            lines += [f"    {s.command}" for chain in group for s in chain]
            lines.append("")
        path = self.out / "report" / "commands.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines))
        return path

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        state = self.state()
        if state.get("size") is not None:
            state["size"].setdefault("skill", "shipped")  # a demo begun before --skill existed used the shipped one
        if state.get("size") != asdict(self.size):
            raise StepFailed(f"{self.out} holds a demo of another size ({state.get('size')}); use another --out")
        write_json_atomic(self.state_path, state)
        self.write_commands()
        steps = [s for g in self.groups for c in g for s in c]
        for g, group in enumerate(self.groups, 1):
            todo = [[s for s in chain if s.name not in state["done"]] for chain in group]
            todo = [c for c in todo if c]
            if not todo:
                continue
            self.say(f"group {g}/{len(self.groups)}: {sum(map(len, todo))} step(s) "
                     f"({len(state['done'])}/{len(steps)} done)")  # fmt: skip
            self._run_group(todo, state)
        return state

    def _run_group(self, chains: list[list[Step]], state: dict[str, Any]) -> None:
        jobs = max(1, min(self.workers, len(chains)))
        queue = list(chains)
        running: list[tuple[subprocess.Popen[bytes], list[Step], float]] = []
        try:
            while queue or running:
                while queue and len(running) < jobs:
                    chain = queue.pop(0)
                    running.append((self._start(chain[0]), chain, time.monotonic()))
                finished = [r for r in running if r[0].poll() is not None]
                if not finished:
                    time.sleep(0.2)  # polling our child processes
                    continue
                for proc, chain, t0 in finished:
                    running.remove((proc, chain, t0))
                    step = chain[0]
                    if proc.returncode != 0:
                        raise StepFailed(f"step {step.name!r} failed (exit {proc.returncode}); log {self._log(step)}:"
                                         f"\n{_tail(self._log(step))}\nrerun alone: {step.command}")  # fmt: skip
                    state["done"][step.name] = {"wall_s": round(time.monotonic() - t0, 1), "command": step.command}
                    write_json_atomic(self.state_path, state)
                    self.say(f"  done: {step.name} ({state['done'][step.name]['wall_s']} s)")
                    if len(chain) > 1:
                        queue.insert(0, chain[1:])
        finally:
            for proc, _, _ in running:  # Ctrl-C or a failed step: stop our own children, by their handles
                proc.terminate()
                proc.wait()

    def _log(self, step: Step) -> Path:
        return self.out / "logs" / (step.name.replace(" ", "_") + ".log")

    def _start(self, step: Step) -> subprocess.Popen[bytes]:
        self.say(f"  start: {step.name}")
        log = self._log(step)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as f:
            f.write(f"$ {step.command}\n".encode())
            proc = subprocess.Popen([sys.executable, "-m", "dexscrew_sdk.cli", *step.argv], stdout=f,
                                    stderr=subprocess.STDOUT, env={**os.environ, **step.env})  # fmt: skip
        return proc


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
