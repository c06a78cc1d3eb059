"""Errors of the recorder and the dataset tools; each says what is safe and what to do."""

from __future__ import annotations

from dexscrew_sdk.errors import DexscrewError


class RecordingError(DexscrewError):
    """Base class of recorder and dataset errors."""


class StepRecordError(RecordingError, ValueError):
    """A step record or episode metadata is malformed; the step was not written."""


class StorageError(RecordingError, OSError):
    """The storage refused a write (full, too large, read-only, not a directory).

    Episodes finished before it are intact; the partial log holds every step flushed before it.
    """


class SourceStoppedError(RecordingError):
    """A source stopped publishing; the episode was closed and marked, not padded."""

    def __init__(self, message: str, sources: tuple[str, ...]) -> None:
        super().__init__(message)
        self.sources = sources


class EpisodeFileError(RecordingError):
    """An episode file or log is corrupted or truncated; the message names the file."""


class DatasetError(RecordingError, ValueError):
    """A dataset operation cannot be done as asked (empty dataset, unknown episode, ...)."""


class DatasetBusyError(RecordingError):
    """Another process holds the dataset's write lock (a recorder or a dataset tool)."""
