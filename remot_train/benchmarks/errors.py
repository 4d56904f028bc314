"""The one error a benchmark reader raises for a bad or partial benchmark folder."""


class BenchmarkError(ValueError):
    """A benchmark folder, file, row or video that cannot be read: one line naming the file (and
    the row when there is one) and the fix."""
