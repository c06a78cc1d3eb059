"""An in-process stand-in for a twin cell: a world whose object turns at a set rate (no engine, no node)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dexscrew_sdk.records import TaskProgress


@dataclass
class FakeProgress(TaskProgress):
    stalled: bool = False


@dataclass
class FakeWorld:
    turns_per_s: float = 0.1
    turns_required: float = 4.0
    rate_after_perturbation: float | None = None
    stall_after_s: float | None = None
    time_s: float = 0.0
    turns: float = 0.0
    perturbations: list[tuple[float, str]] = field(default_factory=list)
    resets: list[tuple[str, str, int]] = field(default_factory=list)

    def reset(self, task: str, shape: str, seed: int = 0, randomisation: dict | None = None) -> None:
        self.resets.append((task, shape, seed))
        self.time_s = self.turns = 0.0

    def perturb(self, kind: str) -> None:
        self.perturbations.append((self.time_s, kind))
        self.turns -= 0.25 if kind == "counter_rotate" else 0.0
        if self.rate_after_perturbation is not None:
            self.turns_per_s = self.rate_after_perturbation

    def advance(self, dt: float) -> None:
        self.time_s += dt
        stalled = self.stall_after_s is not None and self.time_s > self.stall_after_s
        if not stalled:
            self.turns = min(self.turns_required, self.turns + self.turns_per_s * dt)

    def progress(self) -> FakeProgress:
        stalled = self.stall_after_s is not None and self.time_s > self.stall_after_s
        return FakeProgress(self.turns, self.turns_required, self.turns >= self.turns_required, self.time_s,
                            "nut", "square", stalled=stalled)  # fmt: skip


@dataclass
class FakeClock:
    world: FakeWorld
    period_s: float = 0.05

    def wait(self) -> None:
        self.world.advance(self.period_s)


class FakeCell:
    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.clock = FakeClock(world)
        self.arm = self.hand = self.tactile = None


class CountingMethod:
    name = "counting"
    skill_on = True

    def __init__(self) -> None:
        self.steps = 0
        self.started = self.stopped = 0

    def start(self, cell: object, spec: object) -> None:
        self.started += 1

    def step(self, cell: object) -> None:
        self.steps += 1

    def stop(self, cell: object) -> None:
        self.stopped += 1
