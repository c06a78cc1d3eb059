"""Skill primitives: trained finger-rotation policies that drive any `Hand` at 20 Hz.

Importing this package imports nothing else (not torch, not the interfaces), so
pure-data modules such as `layout` can be read by the core; torch is imported
when a skill is loaded. See `Skill`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Skill", "SkillError", "SkillMetadata", "SkillRunStats"]


def __getattr__(name: str) -> Any:
    if name in ("SkillError", "SkillMetadata"):
        from dexscrew_sdk.skills import policy

        return getattr(policy, name)
    if name in ("Skill", "SkillRunStats"):
        from dexscrew_sdk.skills import skill

        return getattr(skill, name)
    raise AttributeError(f"module 'dexscrew_sdk.skills' has no attribute {name!r}")
