"""Recording demonstrations: the recorder, the episode format, dataset tools and exports.

Core needs numpy only; the LeRobot export (`[export]`, pyarrow) and the rerun viewer
(`[viewer]`, rerun-sdk) are imported when used.
"""

from dexscrew_sdk.recording.align import AlignedSample, Aligner, align_stamps
from dexscrew_sdk.recording.episode import Episode, load_episode
from dexscrew_sdk.recording.errors import (
    DatasetBusyError,
    DatasetError,
    EpisodeFileError,
    RecordingError,
    SourceStoppedError,
    StepRecordError,
    StorageError,
)
from dexscrew_sdk.recording.recorder import EpisodeWriter, FinalizeHandle, FinishedEpisode, Recorder
from dexscrew_sdk.recording.schema import (
    ACTION_DIM,
    ACTION_NAMES,
    STEP_DTYPE,
    ControlEvent,
    EpisodeMeta,
    OperatorEvent,
    SampleFlag,
    StepRecord,
)

__all__ = [
    "ACTION_DIM",
    "ACTION_NAMES",
    "STEP_DTYPE",
    "AlignedSample",
    "Aligner",
    "ControlEvent",
    "DatasetBusyError",
    "DatasetError",
    "Episode",
    "EpisodeFileError",
    "EpisodeMeta",
    "EpisodeWriter",
    "FinalizeHandle",
    "FinishedEpisode",
    "OperatorEvent",
    "Recorder",
    "RecordingError",
    "SampleFlag",
    "SourceStoppedError",
    "StepRecord",
    "StepRecordError",
    "StorageError",
    "align_stamps",
    "load_episode",
]
