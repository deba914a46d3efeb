"""Check that a user passed a JAX random key, and say how to make one when they did not.

Every bayeskit function that draws random numbers takes a key as its first argument, as JAX does.
The common slip is a seed (``sample(0, target)``), which JAX rejects deep inside with "invalid
PRNG key data"; :func:`check_key` turns that into an error that names the function and the fix.
Both kinds of JAX key are accepted: typed keys (``jax.random.key(0)``) and the legacy raw ones
(``jax.random.PRNGKey(0)``, a ``uint32[2]`` array). The checks read only dtypes and shapes, so
they cost nothing and work on traced keys inside ``jit`` and ``vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_key"]


def _describe(key) -> str:
    if isinstance(key, bool | int | float | np.integer | np.floating):
        return f"the {type(key).__name__} {key}"
    if key is None:
        return "None"
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is not None:
        return f"an array of dtype {dtype} and shape {tuple(shape)}"
    return f"a {type(key).__name__}"


def check_key(key, where: str):
    """Return ``key`` if it is one JAX random key; otherwise raise a ``TypeError`` naming ``where``.

    Args:
        key: a typed key (``jax.random.key(seed)``, shape ``()``) or a legacy raw key
            (``jax.random.PRNGKey(seed)``, ``uint32`` of shape ``(2,)``).
        where: the function's name as the user called it, e.g. ``"mcmc.sample"``.

    Raises:
        TypeError: anything else (a seed, ``None``, a float array, a batch of keys).
    """
    dtype = getattr(key, "dtype", None)
    shape = tuple(getattr(key, "shape", ()) or ())
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return key
        problem = f"a batch of {shape} keys"
    elif dtype is not None and np.dtype(dtype) == np.uint32 and shape == (2,):
        return key
    else:
        problem = _describe(key)
    raise TypeError(
        f"{where}: `key` must be one JAX random key, got {problem}. Make one with "
        f"`jax.random.key(seed)` (e.g. `jax.random.key(0)`), and split it "
        f"(`jax.random.split(key)`) to get fresh keys for further calls."
    )
