r"""A Gaussian output head: a network's raw outputs as the mean and standard deviation of y.

Heteroscedastic (Nix & Weigend 1994; Lakshminarayanan et al. 2017): the network has two outputs
per point, the mean :math:`\mu(x)` and a raw scale :math:`r(x)`, with

.. math:: \sigma(x) = \operatorname{softplus}(r(x)) + \sigma_{\min},

trained on the Gaussian negative log-likelihood
:math:`\tfrac12 \log 2\pi\sigma^2(x) + (y - \mu(x))^2 / (2\sigma^2(x))`, so the noise may vary
with x. Homoscedastic: one output, the mean, and one noise scale shared by all points (a learned
``log_noise`` parameter, or a fixed model precision :math:`\tau = 1/\sigma^2` as in MC dropout).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["MIN_SCALE", "gaussian_head", "gaussian_nll_terms", "head_size"]

MIN_SCALE = 1e-3  # in standardised units of y: keeps the likelihood bounded on exact fits


def head_size(heteroscedastic: bool) -> int:
    """Number of network outputs the head reads: 2 (mean, raw scale) or 1 (mean)."""
    return 2 if heteroscedastic else 1


def gaussian_head(outputs: jax.Array, log_noise=None) -> tuple[jax.Array, jax.Array]:
    """Split outputs ``(n, 2)`` or ``(n, 1)`` into ``(loc, scale)`` of shape ``(n,)``.

    Args:
        outputs: the network's outputs for a batch.
        log_noise: the shared log standard deviation for a one-output (homoscedastic) network.

    Example:
        >>> loc, scale = gaussian_head(jnp.array([[0.5, 0.0]]))
        >>> round(float(scale[0]), 4)  # softplus(0) + 1e-3
        0.6941
    """
    loc = outputs[:, 0]
    if outputs.shape[1] == 2:
        scale = jax.nn.softplus(outputs[:, 1]) + MIN_SCALE
    else:
        if log_noise is None:
            raise ValueError("gaussian_head: a one-output network needs `log_noise`.")
        scale = jnp.broadcast_to(jnp.exp(log_noise), loc.shape)
    return loc, scale


def gaussian_nll_terms(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    """Per-point Gaussian negative log-likelihood (the training loss, differentiable in all arguments)."""
    return 0.5 * jnp.log(2.0 * jnp.pi) + jnp.log(scale) + 0.5 * ((y - loc) / scale) ** 2
