"""Which finger skill a tool runs: `--skill shipped|official|PATH`, resolved in one place for every verb.

- `shipped`: the skill this installation ships for the task (`policies/skills/<task>/`);
- `official`: the authors' released checkpoint for the task (`Skill.official`, deploy settings);
- PATH: an exported skill folder (skill.pt + skill.json), a `.pt` file, or a folder holding one
  skill folder per task (`<PATH>/nut/`, `<PATH>/screwdriver/`, the shipped layout).

`resolve_skill` checks the choice and finds the file without importing torch, so a typo or a missing
path is refused before a cell starts or anything moves; `load_skill` then loads it and checks that
the skill was made for the task. `SkillChoice.identity()` is what recordings and reports store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexscrew_sdk import resources
from dexscrew_sdk.errors import SkillError
from dexscrew_sdk.skills import layout

SKILL_NAMES = ("shipped", "official")
DEFAULT_SKILL = "shipped"
SKILL_HELP = (
    "finger skill: shipped (this installation's, default), official (the authors' released checkpoint) "
    "or PATH (an exported skill folder or .pt, or a folder with one skill folder per task)"
)


@dataclass(frozen=True)
class SkillChoice:
    """A resolved `--skill`: what was asked for and the file that answers it."""

    choice: str  # "shipped" | "official" | the PATH as given
    task: str
    path: Path  # the model file (skill.pt, or the released checkpoint)
    sha256: str  # of the model file: skill.json's own record for exported skills

    @property
    def kind(self) -> str:
        return self.choice if self.choice in SKILL_NAMES else "path"

    def identity(self) -> dict[str, Any]:
        return {"choice": self.choice, "kind": self.kind, "task": self.task, "path": str(self.path),
                "sha256": self.sha256}  # fmt: skip


def _model_file(path: Path, task: str) -> Path:
    """The model file PATH names for `task`, or a SkillError saying what is there instead."""
    if path.is_file():
        return path
    if not path.exists():
        raise SkillError(f"--skill {str(path)!r}: no such file or folder (use shipped, official or an existing PATH)")
    for folder in (path, path / task):
        if (folder / "skill.pt").is_file():
            return folder / "skill.pt"
    raise SkillError(f"--skill {str(path)!r}: the folder holds neither skill.pt nor {task}/skill.pt")


def _sha256(model: Path) -> str:
    """skill.json's recorded digest (load_policy checks it against the file), else the file's own."""
    meta = model.with_suffix(".json")
    if meta.is_file():
        try:
            digest = json.loads(meta.read_text()).get("sha256")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            digest = None  # loading the skill names what is wrong with its metadata
        if isinstance(digest, str) and digest:
            return digest
    return hashlib.sha256(model.read_bytes()).hexdigest()


def resolve_skill(choice: str | Path | None, task: str) -> SkillChoice:
    """Check `--skill` for `task` ("nut" or "screwdriver") and find its file; no torch, nothing moves."""
    task = layout.check_task(task)
    text = DEFAULT_SKILL if choice is None else str(choice)
    if not text.strip():
        raise SkillError(f"--skill is empty: use one of {list(SKILL_NAMES)} or a PATH")
    if text == "shipped":
        model = resources.shipped_skill(task) / "skill.pt"
        if not model.is_file():
            raise SkillError(f"--skill shipped: the shipped {task} skill has no skill.pt ({model})")
    elif text == "official":
        model = resources.official_dir() / layout.OFFICIAL_FILES[task]
        if not model.is_file():
            raise SkillError(
                f"--skill official: released checkpoint {model} not found; set {resources.OFFICIAL_DIR_ENV} "
                "to its folder (see external/dexscrew_official/README.md)"
            )
    else:
        path = Path(text).expanduser()
        if not path.exists() and path.parent == Path(".") and path.suffix == "":
            raise SkillError(f"--skill {text!r}: unknown skill name and no such path; use one of "
                             f"{list(SKILL_NAMES)} or the PATH of an exported skill")  # fmt: skip
        model = _model_file(path, task)
    return SkillChoice(text, task, model.resolve(), _sha256(model))


def load_skill(choice: str | Path | None, task: str) -> tuple[Any, SkillChoice]:
    """(Skill, SkillChoice): the resolved skill loaded, refused if it was made for another task."""
    from dexscrew_sdk.skills.skill import Skill

    resolved = resolve_skill(choice, task)
    skill = Skill.load(resolved.path)
    if skill.meta.task != resolved.task:
        raise SkillError(
            f"--skill {resolved.choice!r}: {resolved.path} is a {skill.meta.task} skill, this run needs a "
            f"{resolved.task} skill"
        )
    return skill, resolved
