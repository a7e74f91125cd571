"""Run a blocking call (CPU-heavy hashing, a SQLite read, PDF rendering) off the event loop."""
from __future__ import annotations


def run_blocking(fn, *args, **kwargs):
    try:
        from eventlet import patcher, tpool
    except ImportError:  # pragma: no cover
        return fn(*args, **kwargs)
    if patcher.is_monkey_patched("thread"):
        return tpool.execute(fn, *args, **kwargs)
    return fn(*args, **kwargs)
