"""The scoped glibc allocator setting GP fits use: it keeps large buffers mapped, and only inside."""

import ctypes
import resource

import pytest

from bayeskit import _allocator

SIZE = 48 << 20  # above glibc's largest mmap threshold (32 MiB)


def _faults_touching_fresh_buffers(libc, repeats: int = 4) -> int:
    """Minor page faults of ``repeats`` malloc-write-free rounds of ``SIZE`` bytes (as XLA's buffers)."""
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        pointer = libc.malloc(SIZE)
        ctypes.memset(pointer, 1, SIZE)
        libc.free(pointer)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start


@pytest.mark.skipif(_allocator._glibc() is None, reason="glibc only")
def test_large_buffers_are_reused_inside_the_block_only():
    libc = _allocator._glibc()
    outside = _faults_touching_fresh_buffers(libc)
    with _allocator.reuse_large_buffers():
        _faults_touching_fresh_buffers(libc, repeats=1)  # the heap grows once
        inside = _faults_touching_fresh_buffers(libc)
    after = _faults_touching_fresh_buffers(libc)
    assert outside > 4 * SIZE // 4096 // 2  # fresh mappings: about one fault per page
    assert inside < outside / 20
    assert after > outside / 2  # restored on exit


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("BAYESKIT_MALLOC_TUNING", "off")
    assert _allocator._glibc() is None
    with _allocator.reuse_large_buffers():
        pass
