"""Validate and convert the parameters the discrete families share: probabilities, logits, counts.

A family that accepts either ``probs`` or ``logits`` stores only logits, because the log
probabilities it needs (``log p = -softplus(-logit)``, ``log(1 - p) = -softplus(logit)``) are
accurate from logits at both ends of the unit interval, where ``log(p)`` and ``log1p(-p)`` are not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter

__all__ = ["logits_from", "check_count"]


class _Logit(C.Constraint):
    """A scalar logit: any number, with ``-inf``/``+inf`` meaning probability 0/1; never NaN."""

    def check(self, x):
        return ~jnp.isnan(x)

    def __repr__(self) -> str:
        return "a real number or +-inf (not NaN)"


class _FiniteAboveLogit(C.Constraint):
    """A scalar logit below ``+inf``: for families whose probability must stay below 1."""

    def check(self, x):
        return ~jnp.isnan(x) & (x < jnp.inf)

    def __repr__(self) -> str:
        return "a real number or -inf (not NaN, not +inf)"


class _LogitVector(C.Constraint):
    """Unnormalised log probabilities: finite or ``-inf`` (an impossible category), not all ``-inf``."""

    event_dim = 1

    def check(self, x):
        entries = ~jnp.isnan(x) & (x < jnp.inf)
        return jnp.all(entries, axis=-1) & jnp.any(x > -jnp.inf, axis=-1)

    def __repr__(self) -> str:
        return "a vector of real numbers or -inf (no NaN, no +inf, not all -inf)"


class _HalfOpenUnitInterval(C.Constraint):
    def check(self, x):
        return (x >= 0) & (x < 1)

    def __repr__(self) -> str:
        return "in [0, 1)"


class _Count(C.Constraint):
    is_discrete = True

    def check(self, x):
        return (x >= 0) & (jnp.floor(x) == x) & jnp.isfinite(x)

    def __repr__(self) -> str:
        return "a nonnegative integer"


logit = _Logit()
logit_below_inf = _FiniteAboveLogit()
logit_vector = _LogitVector()
half_open_unit_interval = _HalfOpenUnitInterval()
count = _Count()


def logits_from(
    dist: str,
    probs,
    logits,
    *,
    vector: bool = False,
    probs_constraint: C.Constraint | None = None,
    logits_constraint: C.Constraint | None = None,
    probs_hint: str = "",
) -> jax.Array:
    """Return the logits of a distribution given exactly one of ``probs`` and ``logits``.

    Args:
        dist: the family's name, for error messages.
        probs: probabilities, or ``None``.
        logits: log-odds (scalar families) or unnormalised log probabilities (``vector=True``),
            or ``None``.
        vector: whether the last axis indexes categories (``probs`` on the simplex).
        probs_constraint: the set ``probs`` must lie in; the unit interval or the simplex by default.
        logits_constraint: the set ``logits`` must lie in.
        probs_hint: appended to the error when ``probs`` is outside its set.

    Raises:
        ValueError: if both or neither are given, or a concrete value is outside its set.
    """
    if (probs is None) == (logits is None):
        given = "both were" if probs is not None else "neither was"
        meaning = (
            "`probs` holds probability vectors on the last axis; `logits` unnormalised log probabilities."
            if vector
            else "`probs` are probabilities; `logits` are log-odds, log(p) - log(1 - p)."
        )
        raise ValueError(f"{dist}: pass exactly one of `probs` and `logits`, but {given} given. {meaning}")
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    value = as_float(value)
    if vector and jnp.ndim(value) == 0:
        raise ValueError(
            f"{dist}: parameter `{name}` must have at least one dimension, the last indexing the "
            f"categories, but got a scalar. Pass e.g. {name}=[0.2, 0.3, 0.5]."
        )
    if probs is not None:
        if probs_constraint is None:
            probs_constraint = C.simplex if vector else C.unit_interval
        check_parameter(dist, "probs", value, probs_constraint, probs_hint)
        if vector:
            return jnp.log(value)
        return jnp.log(value) - jnp.log1p(-value)
    if logits_constraint is None:
        logits_constraint = logit_vector if vector else logit
    check_parameter(dist, "logits", value, logits_constraint)
    return value


def check_count(dist: str, name: str, value, hint: str = "") -> None:
    """Raise ``ValueError`` unless a concrete ``value`` holds finite nonnegative integers."""
    check_parameter(dist, name, value, count, hint)
