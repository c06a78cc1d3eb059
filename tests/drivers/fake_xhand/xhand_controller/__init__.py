"""A fake of the XHand vendor SDK's documented Python API, for tests only (never installed)."""
