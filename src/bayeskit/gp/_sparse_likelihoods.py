"""Likelihoods for SVGP: expected log likelihoods under q(f) = N(mean, var), and class probabilities.

Gaussian: E_q[log N(y | f, sigma^2)] in closed form. Bernoulli with the probit link
p(y = 1 | f) = Phi(f): the expectation of log Phi((2y - 1) f) by Gauss-Hermite quadrature, and the
predictive probability in closed form, E_q[Phi(f)] = Phi(mean / sqrt(1 + var)).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr, ndtr

from bayeskit.gp._precise import matmul

__all__ = ["LIKELIHOODS", "bernoulli_proba", "check_labels", "check_likelihood", "expected_log_likelihood"]

LIKELIHOODS = ("gaussian", "bernoulli")
_NUM_QUADRATURE = 40  # log Phi bends sharply: at latent variance 5, 20 nodes err by 3e-5, 40 by 2e-7


def check_likelihood(owner: str, likelihood) -> str:
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"{owner}: `likelihood` must be one of {', '.join(map(repr, LIKELIHOODS))}, got {likelihood!r}."
        )
    return likelihood


def check_labels(owner: str, y: jax.Array) -> None:
    """Raise a ``ValueError`` naming ``y`` unless every (concrete) label is 0 or 1."""
    if isinstance(y, jax.core.Tracer):
        return
    values = np.unique(np.asarray(y))
    bad = values[(values != 0) & (values != 1)]
    if bad.size:
        shown = ", ".join(f"{v:g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise ValueError(
            f"{owner}: with likelihood='bernoulli', `y` must hold class labels 0 and 1, got {shown}. "
            f"Encode the classes as 0/1 (e.g. `(labels == positive_class).astype(float)`)."
        )


def expected_log_likelihood(likelihood: str, y, mean, var, noise) -> jax.Array:
    r"""E_{f ~ N(mean, var)} [log p(y | f)], one value per point.

    Gaussian: :math:`-\tfrac12 \log(2\pi\sigma^2) - ((y - \mu)^2 + v) / (2\sigma^2)`.
    Bernoulli (probit): :math:`\sum_i w_i \log\Phi(s(\mu + \sqrt{2v}\,x_i)) / \sqrt\pi` with
    Gauss-Hermite nodes x_i and weights w_i, s = 2y - 1.
    """
    if likelihood == "gaussian":
        return -0.5 * (jnp.log(2.0 * math.pi * noise) + ((y - mean) ** 2 + var) / noise)
    nodes, weights = np.polynomial.hermite.hermgauss(_NUM_QUADRATURE)
    nodes = jnp.asarray(nodes, dtype=mean.dtype)
    weights = jnp.asarray(weights / math.sqrt(math.pi), dtype=mean.dtype)
    f = mean[:, None] + jnp.sqrt(2.0 * var)[:, None] * nodes
    sign = (2.0 * y - 1.0)[:, None]
    return matmul(log_ndtr(sign * f), weights)


def bernoulli_proba(mean, var) -> jax.Array:
    """p(y* = 1) = E[Phi(f*)] = Phi(mean / sqrt(1 + var)) for f* ~ N(mean, var)."""
    return ndtr(mean / jnp.sqrt(1.0 + var))
