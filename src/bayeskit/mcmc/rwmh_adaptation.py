"""Warmup for random-walk Metropolis: tune the proposal scale and, optionally, its covariance.

The scale is tuned on the log scale by dual averaging (Nesterov 2009; Hoffman & Gelman 2014,
section 3.2), a Robbins–Monro recursion whose averaged iterate settles where the mean acceptance
probability equals its target. The covariance is the regularised Welford estimate of the warmup
draws times ``2.38^2 / d`` (Haario, Saksman & Tamminen 2001; Roberts & Rosenthal 2001, 2009),
collected over Stan's doubling windows; after each window the scale restarts at 1.

References:
    Gelman, Roberts & Gilks (1996), "Efficient Metropolis jumping rules".
    Roberts & Rosenthal (2001), "Optimal scaling for various Metropolis–Hastings algorithms".
    Andrieu & Thoms (2008), "A tutorial on adaptive MCMC".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayeskit.mcmc.adaptation import (
    DualAveragingState,
    WelfordState,
    dual_averaging_init,
    dual_averaging_update,
    warmup_schedule,
    welford_covariance,
    welford_init,
    welford_update,
)
from bayeskit.mcmc.rwmh import RWMHState, check_scale, rwmh_kernel

__all__ = [
    "RWMHAdaptationState",
    "optimal_acceptance_rate",
    "rwmh_warmup",
    "scale_adaptation_init",
    "scale_adaptation_update",
    "scale_adaptation_final",
]

_HIGH_DIM_RATE = 0.234
_ONE_DIM_RATE = 0.44


def optimal_acceptance_rate(dim: int) -> float:
    r"""The acceptance rate random-walk Metropolis should aim for in dimension ``dim``.

    .. math:: \alpha^*(d) = 0.234 + \frac{0.44 - 0.234}{d}

    This interpolates between the optimum for a 1-D Gaussian target, about 0.44, and the
    high-dimensional limit 0.234 (Gelman, Roberts & Gilks 1996; Roberts & Rosenthal 2001). The
    ``1/d`` decay follows those papers' finite-dimension numbers closely (about 0.34 at d = 2,
    0.28 at d = 4, 0.26 at d = 10); efficiency is flat near the optimum, so this precision is
    ample.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"optimal_acceptance_rate: `dim` must be a positive integer, got {dim!r}.")
    return _HIGH_DIM_RATE + (_ONE_DIM_RATE - _HIGH_DIM_RATE) / dim


def scale_adaptation_init(scale) -> DualAveragingState:
    """Start adapting ``log(scale)`` by dual averaging, shrinking toward ``log(scale)`` itself.

    Unlike HMC's step size (pulled toward ten times its start), a random-walk scale has no reason
    to be biased upward, so the shrinkage point is the starting value.
    """
    state = dual_averaging_init(scale)
    return state._replace(mu=state.log_step_size)


def scale_adaptation_update(state: DualAveragingState, acceptance_rate, target_acceptance_rate: float):
    r"""One Robbins–Monro/dual-averaging step of ``log(scale)`` toward ``target_acceptance_rate``.

    With :math:`H_t = \delta - \alpha_t` (target minus this step's acceptance probability),
    :math:`\bar H_t = (1 - \frac{1}{t+t_0})\bar H_{t-1} + \frac{H_t}{t+t_0}` and
    :math:`\log s_t = \mu - \frac{\sqrt t}{\gamma}\bar H_t`: too few acceptances shrink the scale,
    too many grow it. The averaged iterate :math:`\log\bar s_t` is the one to keep.
    """
    return dual_averaging_update(state, acceptance_rate, target_accept=target_acceptance_rate)


def scale_adaptation_final(state: DualAveragingState) -> jax.Array:
    """The tuned scale: the exponential of the averaged iterate (the start if nothing was seen)."""
    return jnp.exp(jnp.where(state.count > 0, state.log_step_size_avg, state.log_step_size))


class RWMHAdaptationState(NamedTuple):
    """Everything warmup carries besides the chain: scale and covariance estimators, and ``L``."""

    scale: DualAveragingState
    moments: WelfordState | None
    proposal_covariance: jax.Array | None
    cholesky: jax.Array | None


def rwmh_warmup(
    key: jax.Array,
    logdensity_fn: Callable,
    position,
    num_steps: int,
    adapt_covariance: bool = False,
    *,
    initial_scale=None,
    target_acceptance_rate: float | None = None,
) -> tuple[RWMHState, dict]:
    r"""Run random-walk Metropolis warmup and return the last state and the tuned parameters.

    Every step rebuilds the :func:`~bayeskit.mcmc.rwmh.rwmh` kernel with the current tuning,
    takes one step, and updates the tuning:

    - ``scale`` is adapted by dual averaging on ``log(scale)`` toward
      ``target_acceptance_rate`` (default :func:`optimal_acceptance_rate` of the dimension:
      0.44 in 1-D falling to 0.234), starting from ``initial_scale`` (default
      :math:`2.38/\sqrt d`).
    - with ``adapt_covariance``, warmup follows Stan's schedule (a fast initial buffer, slow
      windows that double in length, a fast final buffer, here a fifth of warmup). In each slow window a Welford
      estimate :math:`\hat\Sigma` of the draws is collected; at its end the proposal covariance
      becomes :math:`\frac{2.38^2}{d}\hat\Sigma` (regularised toward a small multiple of the
      identity), the estimator is reset, and scale adaptation restarts at ``scale = 1``.

    The whole warmup is one ``lax.scan``: it is pure, and jits (with ``logdensity_fn``,
    ``num_steps`` and ``adapt_covariance`` static) and vmaps over ``key`` and ``position``.

    Args:
        key: a PRNG key.
        logdensity_fn: ``z -> log p(z)`` for ``z`` of shape ``(dim,)``.
        position: the starting vector, shape ``(dim,)``.
        num_steps: number of warmup iterations (a Python int).
        adapt_covariance: also estimate the proposal covariance (needs ``num_steps >= 20``;
            shorter warmups tune the scale only).
        initial_scale: the scale to start from.
        target_acceptance_rate: the mean acceptance probability to aim for, in (0, 1).

    Returns:
        ``(state, parameters)``: the final :class:`~bayeskit.mcmc.rwmh.RWMHState`, and
        ``{"scale": ..., "proposal_covariance": ...}`` (the covariance is ``None`` without
        ``adapt_covariance``), ready for ``rwmh(logdensity_fn, **parameters)``.

    Example:
        >>> state, params = rwmh_warmup(jax.random.key(0), logdensity_fn, jnp.zeros(3), 1000)
        >>> kernel = rwmh(logdensity_fn, **params)
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"rwmh_warmup: `num_steps` must be a nonnegative Python int, got {num_steps!r}.")
    position = jnp.asarray(position)
    if not jnp.issubdtype(position.dtype, jnp.floating):
        position = position.astype(jnp.result_type(float))
    if position.ndim != 1:
        raise ValueError(
            f"rwmh_warmup: `position` must be one flat vector of shape (dim,), got shape {tuple(position.shape)}."
        )
    dim = position.shape[0]
    if target_acceptance_rate is None:
        target_acceptance_rate = optimal_acceptance_rate(max(dim, 1))
    elif not 0.0 < float(target_acceptance_rate) < 1.0:
        raise ValueError(
            f"rwmh_warmup: `target_acceptance_rate` must lie in (0, 1), got {target_acceptance_rate!r}."
        )
    if initial_scale is None:
        initial_scale = 2.38 / math.sqrt(max(dim, 1))
    check_scale(initial_scale, "rwmh_warmup")
    dtype = position.dtype

    if adapt_covariance:
        # A random-walk acceptance is a noisy signal, so the last window, which settles the
        # scale for the final covariance, is longer than Stan's 50 steps: a fifth of warmup.
        is_slow, is_window_end = warmup_schedule(num_steps, term_buffer=max(50, num_steps // 5))
    adapt_covariance = bool(adapt_covariance) and bool(is_window_end.any())

    if adapt_covariance:
        eye = jnp.eye(dim, dtype=dtype)
        adapt = RWMHAdaptationState(
            scale_adaptation_init(jnp.asarray(initial_scale, dtype)),
            welford_init(dim, dense=True, dtype=dtype),
            eye,
            eye,
        )
    else:
        adapt = RWMHAdaptationState(
            scale_adaptation_init(jnp.asarray(initial_scale, dtype)), None, None, None
        )
    state = rwmh_kernel(logdensity_fn, initial_scale, adapt.cholesky).init(position)

    def end_window(adapt: RWMHAdaptationState) -> RWMHAdaptationState:
        covariance = (2.38**2 / dim) * welford_covariance(adapt.moments)
        return RWMHAdaptationState(
            scale_adaptation_init(jnp.ones((), dtype)),
            welford_init(dim, dense=True, dtype=dtype),
            covariance,
            jnp.linalg.cholesky(covariance),
        )

    def one_step(carry, inputs):
        state, adapt = carry
        key, slow, window_end = inputs
        scale = jnp.exp(adapt.scale.log_step_size)
        state, info = rwmh_kernel(logdensity_fn, scale, adapt.cholesky).step(key, state)
        adapt = adapt._replace(
            scale=scale_adaptation_update(adapt.scale, info.acceptance_rate, target_acceptance_rate)
        )
        if adapt_covariance:
            updated = welford_update(adapt.moments, state.position)
            moments = jax.tree.map(lambda new, old: jnp.where(slow, new, old), updated, adapt.moments)
            adapt = jax.lax.cond(window_end, end_window, lambda a: a, adapt._replace(moments=moments))
        return (state, adapt), None

    keys = jax.random.split(key, num_steps)
    if adapt_covariance:
        inputs = (keys, jnp.asarray(is_slow), jnp.asarray(is_window_end))
    else:
        inputs = (keys, jnp.zeros(num_steps, bool), jnp.zeros(num_steps, bool))
    (state, adapt), _ = jax.lax.scan(one_step, (state, adapt), inputs)
    parameters = {
        "scale": scale_adaptation_final(adapt.scale),
        "proposal_covariance": adapt.proposal_covariance,
    }
    return state, parameters
