"""Random numbers from random words: the Threefry-2x32 hash, uniforms and normals.

A NUTS transition needs a little randomness in several places: the momentum, the direction of
each doubling, one uniform per merge and one per leaf. Drawn with a ``jax.random`` call each, a
transition held eight threefry calls, and on a CPU each is a loop of its own with half a dozen
small kernels around it: about 45% of the XLA compile time of the NUTS step (0.9 s to compile,
0.48 s with its random numbers replaced by constants; ``benchmarks/mcmc_peers.py``'s 100-d
Gaussian on this project's 2-core machine). The kernel now takes everything but the leaves'
uniforms from one ``jax.random.bits`` call, and a leaf's uniform from one Threefry-2x32 hash of
the leaf's number keyed by 64 of those bits: the same generator as ``jax.random``'s (Salmon,
Moraes, Dror and Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3": 20 rounds, a key
injection after every 4), used as the counter-based generator it was designed to be. Written
out round by round it becomes one straight-line kernel with the code that uses it.

``tests/test_threefry.py`` checks the hash and the conversions bit for bit against ``jax.random``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["normal_from_words", "threefry2x32", "uniform_from_words"]

# Threefry-2x32's rotation distances (the first four for rounds 1-4 of every eight, the last four
# for rounds 5-8) and the constant that makes the third word of its key schedule.
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_SCHEDULE_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: jax.Array, distance: int) -> jax.Array:
    return lax.shift_left(x, np.uint32(distance)) | lax.shift_right_logical(x, np.uint32(32 - distance))


def threefry2x32(k0, k1, x0, x1) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 (20 rounds): the counter ``(x0, x1)`` hashed under the key ``(k0, k1)``.

    All four are ``uint32`` arrays that broadcast together; the result is two words as random
    as the key, a different pair for every counter.
    """
    k0, k1, x0, x1 = (jnp.asarray(w, np.uint32) for w in (k0, k1, x0, x1))
    schedule = (k0, k1, k0 ^ k1 ^ _SCHEDULE_PARITY)
    x0, x1 = x0 + schedule[0], x1 + schedule[1]
    for injection in range(1, 6):  # five groups of four rounds, each followed by a key injection
        first = 4 * ((injection - 1) % 2)
        for distance in _ROTATIONS[first : first + 4]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, distance) ^ x0
        x0 = x0 + schedule[injection % 3]
        x1 = x1 + schedule[(injection + 1) % 3] + np.uint32(injection)
    return x0, x1


def uniform_from_words(w0: jax.Array, w1: jax.Array, dtype) -> jax.Array:
    """Uniform floats in [0, 1) of ``dtype`` from two random ``uint32`` words each.

    As ``jax.random.uniform`` makes them: the float's mantissa from the top bits of a 64-bit
    word ``(w0 << 32) | w1`` (float64) or of ``w0 ^ w1`` (float32), with the exponent of 1.0,
    minus 1.
    """
    dtype = np.dtype(dtype)
    info = np.finfo(dtype)
    if info.bits == 64:
        bits = lax.shift_left(w0.astype(np.uint64), np.uint64(32)) | w1.astype(np.uint64)
    elif info.bits == 32:
        bits = w0 ^ w1
    else:
        raise TypeError(f"uniform_from_words: float32 or float64 only, got {dtype}.")
    unsigned = np.dtype(f"uint{info.bits}")
    mantissa = lax.shift_right_logical(bits, unsigned.type(info.bits - info.nmant))
    one = np.array(1.0, dtype).view(unsigned)
    return lax.bitcast_convert_type(mantissa | one, dtype) - np.array(1.0, dtype)


def normal_from_words(w0: jax.Array, w1: jax.Array, dtype) -> jax.Array:
    """Standard normal draws from two random words each, as ``jax.random.normal`` makes them:
    sqrt(2) erf^-1(u) with u uniform on the open interval (-1, 1)."""
    dtype = np.dtype(dtype)
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform_from_words(w0, w1, dtype) * (np.array(1.0, dtype) - low) + low
    u = lax.max(jnp.full(u.shape, low, dtype), u)
    return np.array(np.sqrt(2), dtype) * lax.erf_inv(u)
