"""A fake of oculus_reader (github.com/rail-berkeley/oculus_reader), for tests only."""
