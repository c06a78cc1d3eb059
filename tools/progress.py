"""Progress of long operator steps on stderr (stdout carries the JSON result)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], what: str, enabled: bool = True) -> Iterator[T]:
    from tqdm import tqdm

    yield from tqdm(items, desc=what, disable=not enabled, file=sys.stderr, leave=False)
