from tests.recording.fixtures import recorded_dataset  # noqa: F401 (shared fixture)
