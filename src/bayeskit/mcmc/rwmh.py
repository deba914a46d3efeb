"""Gaussian random-walk Metropolis–Hastings on one flat vector.

References:
    Metropolis, Rosenbluth, Rosenbluth, Teller & Teller (1953), "Equation of state calculations
    by fast computing machines". Hastings (1970), "Monte Carlo sampling methods using Markov
    chains and their applications".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit.dist._distribution import is_concrete
from bayeskit.mcmc._kernel import Kernel

__all__ = ["RWMHInfo", "RWMHState", "rwmh"]


class RWMHState(NamedTuple):
    """Where the chain is: the position and its log density (kept to avoid re-evaluating it)."""

    position: jax.Array
    logdensity: jax.Array


class RWMHInfo(NamedTuple):
    """What one step did.

    Attributes:
        acceptance_rate: the Metropolis–Hastings acceptance probability ``min(1, p(z')/p(z))``
            of the proposal (0 for a proposal with a non-finite log density).
        is_accepted: whether the chain moved to the proposal.
    """

    acceptance_rate: jax.Array
    is_accepted: jax.Array


def check_scale(scale, where: str = "rwmh") -> None:
    """Raise ``ValueError`` unless a concrete ``scale`` is a positive finite number."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.ndarray, jax.Array, np.number)):
        raise TypeError(f"{where}: `scale` must be a positive number, got {type(scale).__name__}.")
    if is_concrete(scale):
        arr = np.asarray(scale)
        if arr.shape != ():
            raise ValueError(f"{where}: `scale` must be a scalar, got an array of shape {arr.shape}.")
        if not (np.isfinite(arr) and arr > 0):
            raise ValueError(
                f"{where}: `scale` must be a positive finite number, got {arr.item()!r}. It multiplies "
                "the proposal's standard deviation; 2.38 / sqrt(dim) is a good start for a unit-scale target."
            )


def proposal_cholesky(proposal_covariance, where: str = "rwmh") -> jax.Array:
    """Check a proposal covariance matrix and return its lower Cholesky factor."""
    cov = jnp.asarray(proposal_covariance)
    if not jnp.issubdtype(cov.dtype, jnp.floating):
        cov = cov.astype(jnp.result_type(float))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(
            f"{where}: `proposal_covariance` must be a square (dim, dim) matrix, got shape {tuple(cov.shape)}."
        )
    if is_concrete(cov):
        arr = np.asarray(cov)
        if not np.allclose(arr, arr.T, rtol=1e-6, atol=1e-10):
            raise ValueError(f"{where}: `proposal_covariance` must be symmetric.")
        try:
            np.linalg.cholesky(arr)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{where}: `proposal_covariance` must be positive definite (its Cholesky factorisation "
                "failed). Add a small multiple of the identity if it comes from an estimate."
            ) from None
    return jnp.linalg.cholesky(cov)


def rwmh_kernel(logdensity_fn: Callable, scale, cholesky: jax.Array | None) -> Kernel:
    """The kernel with an already factorised proposal covariance (``None``: the identity).

    :func:`rwmh` validates its arguments and calls this; warmup calls it directly each step with
    the current tuning, which avoids re-factorising the covariance every iteration.
    """

    def init(position) -> RWMHState:
        position = jnp.asarray(position)
        if not jnp.issubdtype(position.dtype, jnp.floating):
            position = position.astype(jnp.result_type(float))
        if position.ndim != 1:
            raise ValueError(
                f"rwmh: `position` must be one flat vector of shape (dim,), got shape {tuple(position.shape)}. "
                "Flatten a pytree with jax.flatten_util.ravel_pytree, or use a Target's unconstrained vector."
            )
        if cholesky is not None and cholesky.shape[0] != position.shape[0]:
            raise ValueError(
                f"rwmh: `proposal_covariance` is {cholesky.shape[0]}x{cholesky.shape[0]} but `position` "
                f"has length {position.shape[0]}; they must match."
            )
        logdensity = jnp.asarray(logdensity_fn(position))
        if logdensity.shape != ():
            raise ValueError(
                f"rwmh: `logdensity_fn` must return a scalar, got shape {tuple(logdensity.shape)}."
            )
        # A NaN start is treated as impossible (-inf) so that any finite proposal is accepted
        # and the chain can leave a bad starting point.
        logdensity = jnp.where(jnp.isnan(logdensity), -jnp.inf, logdensity).astype(position.dtype)
        return RWMHState(position, logdensity)

    def step(key: jax.Array, state: RWMHState) -> tuple[RWMHState, RWMHInfo]:
        key = check_key(key, "rwmh(...).step")  # dtype and shape only: free under jit
        key_noise, key_accept = jax.random.split(key)
        position = state.position
        noise = jax.random.normal(key_noise, position.shape, position.dtype)
        if cholesky is not None:
            noise = cholesky @ noise
        proposal = (position + scale * noise).astype(position.dtype)
        logdensity = jnp.asarray(logdensity_fn(proposal)).astype(state.logdensity.dtype)
        # NaN or +-inf at the proposal (or a non-finite proposal) is a rejection, never a move.
        is_valid = jnp.isfinite(logdensity) & jnp.all(jnp.isfinite(proposal))
        log_ratio = jnp.where(is_valid, logdensity - state.logdensity, -jnp.inf)
        log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
        acceptance_rate = jnp.exp(jnp.minimum(log_ratio, 0.0))
        log_u = jnp.log(jax.random.uniform(key_accept, (), state.logdensity.dtype))
        is_accepted = log_u < log_ratio
        new_state = RWMHState(
            jnp.where(is_accepted, proposal, position),
            jnp.where(is_accepted, logdensity, state.logdensity),
        )
        return new_state, RWMHInfo(acceptance_rate, is_accepted)

    return Kernel(init=init, step=step)


def rwmh(logdensity_fn: Callable, scale, proposal_covariance=None) -> Kernel:
    r"""Build a Gaussian random-walk Metropolis–Hastings kernel on a flat vector.

    Each step proposes :math:`z' = z + s L \varepsilon` with :math:`\varepsilon \sim N(0, I)`,
    :math:`s` = ``scale`` and :math:`L L^\top` = ``proposal_covariance`` (identity if ``None``),
    and accepts it with probability :math:`\min(1, p(z') / p(z))` (the proposal is symmetric, so
    the Hastings correction cancels). A proposal whose log density is NaN or infinite is
    rejected. For a roughly Gaussian target with covariance :math:`\Sigma` in dimension
    :math:`d`, ``proposal_covariance = Σ`` with ``scale = 2.38 / sqrt(d)`` is near optimal
    (Roberts & Rosenthal 2001); :func:`bayeskit.mcmc.rwmh_adaptation.rwmh_warmup` tunes both.

    Args:
        logdensity_fn: ``z -> log p(z)`` (up to a constant) for ``z`` of shape ``(dim,)``.
        scale: positive proposal scale ``s`` (a scalar; may be a traced value).
        proposal_covariance: optional ``(dim, dim)`` positive definite matrix.

    Returns:
        A :class:`~bayeskit.mcmc._kernel.Kernel` with ``init(position) -> RWMHState`` and
        ``step(key, state) -> (RWMHState, RWMHInfo)``.

    Raises:
        ValueError: ``scale`` is not positive, or ``proposal_covariance`` is not a symmetric
            positive definite square matrix; at ``init``, ``position`` is not a vector matching
            the covariance or ``logdensity_fn`` does not return a scalar.

    Example:
        >>> kernel = rwmh(lambda z: -0.5 * jnp.sum(z**2), scale=1.7)
        >>> state = kernel.init(jnp.zeros(2))
        >>> state, info = jax.jit(kernel.step)(jax.random.key(0), state)
    """
    if not callable(logdensity_fn):
        raise TypeError(f"rwmh: `logdensity_fn` must be callable, got {type(logdensity_fn).__name__}.")
    check_scale(scale)
    cholesky = None if proposal_covariance is None else proposal_cholesky(proposal_covariance)
    return rwmh_kernel(logdensity_fn, scale, cholesky)
