"""Crafting wire messages by hand, for tests that feed nodes and decoders bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from dexscrew_sdk import codec
from dexscrew_sdk.codec import Message


def frames_of(topic: bytes, msg: Message, **kwargs: Any) -> list[bytes]:
    return [bytes(f) for f in codec.encode(topic, msg, **kwargs)]


def split_header(frames: list[bytes]) -> tuple[bytes, dict[str, Any]]:
    topic, _, raw = frames[0].partition(codec.TOPIC_END)
    return topic, msgpack.unpackb(raw)


def with_header(frames: list[bytes], edit: Callable[[dict[str, Any]], None]) -> list[bytes]:
    """The same message with its header changed by `edit` (which mutates the dict)."""
    topic, header = split_header(frames)
    edit(header)
    return [topic + codec.TOPIC_END + msgpack.packb(header, use_bin_type=True), *frames[1:]]


def with_inline_bytes(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    """Replace the raw bytes of the index-th inline array."""

    def edit(header: dict[str, Any]) -> None:
        header["a"][index][3] = data

    return with_header(frames, edit)
