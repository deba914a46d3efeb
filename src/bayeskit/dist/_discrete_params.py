"""Validate and convert the parameters the discrete families share: probabilities, logits, counts.

A family that accepts either ``probs`` or ``logits`` computes with logits, because the log
probabilities it needs (``log p = -softplus(-logit)``, ``log(1 - p) = -softplus(logit)``) are
accurate from logits at both ends of the unit interval, where ``log(p)`` and ``log1p(-p)`` are not.

Given ``probs``, it also keeps them (``given_probs``). At a probability of exactly 0 or 1 the logit
is infinite, and a derivative taken through it is ``0 * inf = NaN`` even where the log-probability
is finite and smooth in ``p`` (``log P(X = 1) = log p`` at ``p = 1`` has derivative 1). There
``log_prob`` takes its derivative from the probabilities (:func:`zero_with_slope`); its values,
and everything in the interior, are computed exactly as from the logits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter

__all__ = [
    "at_ends",
    "check_count",
    "log_zero_in_rows",
    "logits_from",
    "logits_zero_at_ends",
    "masked",
    "rows_with_zero",
    "xdivy",
    "zero_with_slope",
]


class _Logit(C.Constraint):
    """A scalar logit: any number, with ``-inf``/``+inf`` meaning probability 0/1; never NaN."""

    def check(self, x):
        return ~C._xp(x).isnan(x)

    def __repr__(self) -> str:
        return "a real number or +-inf (not NaN)"


class _FiniteAboveLogit(C.Constraint):
    """A scalar logit below ``+inf``: for families whose probability must stay below 1."""

    def check(self, x):
        return ~C._xp(x).isnan(x) & (x < np.inf)

    def __repr__(self) -> str:
        return "a real number or -inf (not NaN, not +inf)"


class _LogitVector(C.Constraint):
    """Unnormalised log probabilities: finite or ``-inf`` (an impossible category), not all ``-inf``."""

    event_dim = 1

    def check(self, x):
        xp = C._xp(x)
        entries = ~xp.isnan(x) & (x < np.inf)
        return xp.all(entries, axis=-1) & xp.any(x > -np.inf, axis=-1)

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
        xp = C._xp(x)
        return (x >= 0) & (xp.floor(x) == x) & xp.isfinite(x)

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
) -> tuple[jax.Array, jax.Array | None]:
    """Return ``(logits, given_probs)`` of a distribution given exactly one of ``probs`` and ``logits``.

    ``given_probs`` is ``probs`` as a float array, or ``None`` when ``logits`` were given.

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
        return _logits(value, vector), value
    if logits_constraint is None:
        logits_constraint = logit_vector if vector else logit
    check_parameter(dist, "logits", value, logits_constraint)
    return value, None


def _logits(probs, vector: bool) -> jax.Array:
    # The one formula for logits from probabilities, at construction and in log_prob alike.
    if vector:
        return jnp.log(probs)
    return jnp.log(probs) - jnp.log1p(-probs)


# Probabilities of exactly 0 or 1. The log-probability computed from logits has the right value
# there (logits of -inf/+inf are handled), but its derivative in the probabilities is
# (derivative in the logit, 0) * (derivative of the logit, inf) = NaN. So log_prob computes
# value + zero_with_slope(probs, slope): the logits' derivative is set to 0 at the boundary
# (logits_zero_at_ends, log_zero_in_rows) and ``slope``, 0 elsewhere, supplies the derivative
# there. The value and every operation on the probabilities are as before, so results in the
# interior are bit-identical: a ``where`` on the probabilities or on the value instead changed
# how XLA fuses operations (a fused multiply-add rounds once) and which constants it folds.


@jax.custom_jvp
def logits_zero_at_ends(probs):
    """``log p - log(1 - p)``, with JAX's derivative except 0 (not 1/0) where ``p`` is 0 or 1."""
    return _logits(probs, vector=False)


@logits_zero_at_ends.defjvp
def _logits_zero_at_ends_jvp(primals, tangents):
    (p,) = primals
    (p_dot,) = tangents
    q = masked(p_dot, at_ends(p))
    # JAX's derivative of log(p) - log1p(-p), operation for operation. The mask comes after its
    # divisions by 0 in reverse mode (gradients), before them in forward mode, where 0 / 0 stays
    # NaN at the ends: a second mask, after the divisions, would fix forward mode, but it changed
    # the rounding of gradients in the interior (see above), and gradients come first.
    return _logits(p, vector=False), q / p - (-q) / (-p + 1)


def masked(t, mask):
    """``t``, or 0 where ``mask`` is true (for tangents)."""
    return jnp.where(mask, jnp.zeros_like(t), t)


@jax.custom_jvp
def log_zero_in_rows(probs):
    """``log p`` of probability vectors (last axis), with JAX's derivative except 0 in rows that
    hold a zero probability (where it was 1/0)."""
    return _logits(probs, vector=True)


@log_zero_in_rows.defjvp
def _log_zero_in_rows_jvp(primals, tangents):
    (p,) = primals
    (p_dot,) = tangents
    rows = rows_with_zero(p)
    return _logits(p, vector=True), masked(masked(p_dot, rows) / p, rows)


@jax.custom_jvp
def zero_with_slope(x, slope):
    """Return zeros (of the broadcast shape) whose derivative in ``x`` is ``slope``.

    ``slope`` is taken as a constant (no derivative flows into it) and may be infinite: where a
    log-probability is ``-inf`` its derivative may be too. A zero tangent of ``x`` contributes
    nothing (not ``0 * inf``).
    """
    return jnp.zeros(jnp.broadcast_shapes(jnp.shape(x), jnp.shape(slope)), jnp.result_type(x, slope))


def _zero_with_slope_jvp(primals, tangents):
    x, slope = primals
    x_dot, _ = tangents
    out = zero_with_slope(x, slope)
    if isinstance(x_dot, SymbolicZero):
        return out, jnp.zeros_like(out)
    return out, jnp.broadcast_to(x_dot * jax.lax.stop_gradient(slope), out.shape).astype(out.dtype)


zero_with_slope.defjvp(_zero_with_slope_jvp, symbolic_zeros=True)


def xdivy(x, y):
    """``x / y``, but 0 where ``x == 0`` whatever ``y`` is (a term ``x log y`` has derivative
    ``x / y`` in ``y``, and none when ``x`` is 0). For slopes only: not to be differentiated."""
    return jnp.where(x == 0, 0.0, x / y)


def at_ends(probs) -> jax.Array:
    """Where scalar probabilities are exactly 0 or 1."""
    return (probs == 0) | (probs == 1)


def rows_with_zero(probs) -> jax.Array:
    """Which probability vectors (last axis, kept with size 1) hold a zero."""
    return jnp.any(probs == 0, axis=-1, keepdims=True)


def check_count(dist: str, name: str, value, hint: str = "") -> None:
    """Raise ``ValueError`` unless a concrete ``value`` holds finite nonnegative integers."""
    check_parameter(dist, name, value, count, hint)
