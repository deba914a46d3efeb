"""Keep large freed buffers mapped while a loop re-runs one compiled program (glibc only).

glibc serves an allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
unmaps it on ``free``, so every page of it faults in again on first touch. A compiled GP
objective at n = 2,000 allocates about four n x n float64 buffers (32 MB each) per evaluation:
about 33,000 page faults, 20-25% of an evaluation's time (measured on the 2-core benchmark
machine). For the duration of a fit, ``reuse_large_buffers`` asks glibc to serve such buffers
from the heap and to keep freed memory, so the next evaluation reuses pages already mapped.

This is process-wide for its duration, so it is scoped: on exit the thresholds are set to the
values glibc's own dynamic adjustment reaches once a 32 MiB buffer has been freed (mmap above
32 MiB, trim above 64 MiB, default top pad) and the heap is trimmed. Elsewhere than glibc, or
with ``BAYESKIT_MALLOC_TUNING=off``, it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

__all__ = ["reuse_large_buffers"]

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


_OFF = {"off", "0", "false", "no"}


def _glibc():
    """The C library through ctypes when it is glibc and the setting is not turned off; else None."""
    if not sys.platform.startswith("linux") or os.environ.get("BAYESKIT_MALLOC_TUNING", "").lower() in _OFF:
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (raises AttributeError on musl and others)
        return libc
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def reuse_large_buffers():
    """Within the block, large buffers come from the heap and freed ones stay mapped."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(_M_TOP_PAD, 64 << 20)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TOP_PAD, 128 << 10)
        libc.malloc_trim(0)
