"""Files the SDK ships and the folders it is told about: found the same way in a checkout and in a wheel.

Shipped cell configurations live in the `dexscrew_sdk.configs` package and the
shipped skills in `policies.skills`; both are read through `importlib.resources`,
never relative to a source file, so a regular (non-editable) install finds them.
The authors' released checkpoints are not shipped: their folder is given
explicitly, or by the `DEXSCREW_OFFICIAL_DIR` environment variable; a
development checkout falls back to `../shared/external/dexscrew_official`
next to the working directory's repository.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from dexscrew_sdk.errors import ConfigError, SkillError

CONFIG_PACKAGE = "dexscrew_sdk.configs"
SKILL_PACKAGE = "policies.skills"
OFFICIAL_DIR_ENV = "DEXSCREW_OFFICIAL_DIR"
DEV_OFFICIAL_DIR = Path("..") / "shared" / "external" / "dexscrew_official"


def shipped_configs() -> list[str]:
    """Bare names of the shipped cell configurations (`twin_cell`, ...)."""
    root = resources.files(CONFIG_PACKAGE)
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def config_path(name_or_path: str | Path) -> Path:
    """An existing file as given, else the shipped configuration of that bare name (`twin_cell`)."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return path
    stem = path.name[: -len(".toml")] if path.name.endswith(".toml") else path.name
    shipped = resources.files(CONFIG_PACKAGE) / f"{stem}.toml"
    if shipped.is_file():
        return Path(str(shipped))
    raise ConfigError(
        f"configuration {str(name_or_path)!r} is neither a file nor a shipped configuration; "
        f"shipped: {shipped_configs()}"
    )


def shipped_skills_root() -> Path:
    """The folder holding one subfolder per shipped skill (`nut/`, `screwdriver/`)."""
    return Path(str(resources.files(SKILL_PACKAGE)))


def shipped_skill(task: str) -> Path:
    """The folder of the shipped skill for `task` ("nut" or "screwdriver")."""
    folder = resources.files(SKILL_PACKAGE) / task
    if not (folder / "skill.json").is_file():
        raise SkillError(f"no shipped skill for task {task!r} in {SKILL_PACKAGE}")
    return Path(str(folder))


def official_dir(folder: str | Path | None = None) -> Path:
    """The released-checkpoint folder: explicit, else $DEXSCREW_OFFICIAL_DIR, else the development fallback."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get(OFFICIAL_DIR_ENV)
    if env:
        return Path(env)
    for base in (Path.cwd(), *Path.cwd().parents):  # a checkout: <repo>/../shared/external/...
        if (base / "pyproject.toml").is_file():
            return (base / DEV_OFFICIAL_DIR).resolve()
    return (Path.cwd() / DEV_OFFICIAL_DIR).resolve()
