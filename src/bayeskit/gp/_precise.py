"""Matrix products for the GP algebra at the full precision of their dtype, on every device.

On GPUs with tensor cores JAX's default precision for a float32 matrix product is TF32, which
keeps about three significant digits of each factor. The GP algebra cannot afford that: a
squared distance ``|a|^2 + |b|^2 - 2 a.b`` between nearby points cancels most of its digits, and
``K_* alpha`` sums terms much larger than the result. So every product here asks for
``Precision.HIGHEST``. It changes nothing on a CPU, or in float64 anywhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["dot", "matmul"]

_HIGHEST = jax.lax.Precision.HIGHEST


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` at full precision."""
    return jnp.matmul(a, b, precision=_HIGHEST)


def dot(a: jax.Array, b: jax.Array) -> jax.Array:
    """``jnp.dot(a, b)`` at full precision."""
    return jnp.dot(a, b, precision=_HIGHEST)
