"""Quantiles for the tour's intervals: the closed-form ``icdf`` where a family has one, else bisection."""

from __future__ import annotations

import jax
import jax.numpy as jnp

NUM_BISECTIONS = 64


def quantile(d, q, lo, hi) -> jax.Array:
    """Return the ``q``-quantiles of ``d``: ``d.icdf(q)``, or else bisection on ``d.cdf`` in ``[lo, hi]``.

    ``q``, ``lo`` and ``hi`` broadcast against ``d``'s batch shape; the bracket must contain the
    quantile. Bisection needs only a cdf, which every continuous family here has, and 64 halvings
    shrink any finite bracket to rounding error. Call it inside ``jax.jit``: op by op, each
    incomplete-beta evaluation in a cdf costs a compilation of its own.

    Example:
        >>> lower, upper = jax.jit(quantile)(Beta(2.0, 5.0), jnp.array([0.025, 0.975]), 0.0, 1.0)
    """
    try:
        return d.icdf(q)
    except NotImplementedError:
        pass
    shape = jnp.broadcast_shapes(jnp.shape(q), jnp.shape(lo), jnp.shape(hi), tuple(d.batch_shape))
    q, lo, hi = (jnp.broadcast_to(jnp.asarray(v, dtype=float), shape) for v in (q, lo, hi))

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        below = d.cdf(mid) < q
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, NUM_BISECTIONS, halve, (lo, hi))
    return 0.5 * (lo + hi)
