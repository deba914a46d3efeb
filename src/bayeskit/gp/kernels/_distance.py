"""Pairwise distances between rows of scaled inputs, with gradients that stay finite at zero."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.gp._precise import matmul

__all__ = ["squared_distance", "distance"]


def squared_distance(A: jax.Array, B: jax.Array) -> jax.Array:
    """``|a_i - b_j|^2`` for all row pairs, via one matrix product (O(n m d)), clipped at 0.

    The expansion |a|^2 + |b|^2 - 2 a.b loses digits only for points much closer than their norms;
    inputs are divided by the lengthscale first, so the numbers compared are O(1).
    """
    a2 = jnp.sum(A * A, axis=-1)
    b2 = jnp.sum(B * B, axis=-1)
    d2 = a2[:, None] + b2[None, :] - 2.0 * matmul(A, B.T)
    return jnp.maximum(d2, 0.0)


def distance(d2: jax.Array) -> jax.Array:
    """``sqrt(d2)`` whose derivative is 0 (not infinite or NaN) where ``d2 == 0``.

    Kernels of |x - x'| (Matérn) are flat in r at r = 0 or use r only through r-scaled
    hyperparameters, so a zero derivative there is the correct one for the hyperparameters.
    """
    positive = d2 > 0.0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)
