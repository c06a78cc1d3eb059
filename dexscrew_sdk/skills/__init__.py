"""Skill primitives: trained finger-rotation policies that drive any `Hand` at 20 Hz.

Importing this package does not import torch; torch is imported when a skill is
loaded. See `Skill`.
"""

from dexscrew_sdk.skills.policy import SkillError, SkillMetadata
from dexscrew_sdk.skills.skill import Skill, SkillRunStats

__all__ = ["Skill", "SkillError", "SkillMetadata", "SkillRunStats"]
