"""The LKJ distribution over Cholesky factors of correlation matrices."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_event, check_parameter
from bayeskit.dist._gamma_sampler import log_gamma_sample

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    r"""LKJ distribution over lower Cholesky factors ``L`` of ``dimension x dimension`` correlations.

    The correlation matrix :math:`\Omega = L L^T` has density proportional to
    :math:`\det(\Omega)^{\eta - 1}` (``eta = concentration``): ``eta = 1`` is uniform over
    correlation matrices, larger ``eta`` concentrates near the identity. Written for ``L``
    (density with respect to its strictly lower entries), as in Stan's ``lkj_corr_cholesky``:

    .. math::
        \log p(L) = \sum_{i=2}^{d} (d - i + 2\eta - 2) \log L_{ii} - \log c_d(\eta),

        \log c_d(\eta) = \sum_{k=1}^{d-1} (d-k)\left[(2\eta - 2 + d - k)\log 2
        + \log B\!\left(\beta_k, \beta_k\right)\right], \quad \beta_k = \eta + \tfrac{d-k-1}{2},

    where :math:`c_d(\eta) = \int \det(\Omega)^{\eta-1} d\Omega`. Each off-diagonal correlation
    has marginal :math:`\mathrm{Beta}(\eta - 1 + d/2, \eta - 1 + d/2)` on ``(-1, 1)``.

    Sampling uses the C-vine method: the partial correlations of level ``k`` are independent
    :math:`\mathrm{Beta}(\beta_k, \beta_k)` on ``(-1, 1)`` and fill each row of ``L`` by stick
    breaking.

    Reference:
        Lewandowski, Kurowicka and Joe (2009), "Generating random correlation matrices based on
        vines and extended onion method", Journal of Multivariate Analysis 100(9).

    Example:
        >>> d = LKJCholesky(3, concentration=2.0)
        >>> L = d.sample(jax.random.key(0))
        >>> L.shape
        (3, 3)
        >>> bool(jnp.allclose(jnp.diag(L @ L.T), 1.0))
        True
    """

    dimension: int = eqx.field(static=True)
    concentration: jax.Array

    def __init__(self, dimension: int, concentration=1.0):
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 2:
            raise ValueError(
                f"LKJCholesky: parameter `dimension` must be a Python integer >= 2 (the size of the "
                f"correlation matrix), but got {dimension!r}."
            )
        self.dimension = dimension
        self.concentration = as_float(concentration)

    def __check_init__(self):
        check_parameter(
            "LKJCholesky",
            "concentration",
            self.concentration,
            C.positive,
            "eta = 1 is uniform over correlation matrices; larger values favour the identity.",
        )

    @property
    def batch_shape(self):
        return tuple(self.concentration.shape)

    @property
    def event_shape(self):
        return (self.dimension, self.dimension)

    @property
    def support(self):
        return C.corr_cholesky

    def _log_normaliser(self):
        d, eta = self.dimension, self.concentration
        total = jnp.zeros_like(eta)
        for k in range(1, d):
            beta = eta + 0.5 * (d - k - 1)
            log_b = 2.0 * gammaln(beta) - gammaln(2.0 * beta)
            total = total + (d - k) * ((2.0 * eta - 2.0 + d - k) * math.log(2.0) + log_b)
        return total

    def log_prob(self, x):
        x = as_float(x)
        check_event("LKJCholesky", x, self.event_shape)
        d = self.dimension
        log_diag = jnp.log(jnp.diagonal(x, axis1=-2, axis2=-1)[..., 1:])
        # 0-based row i = 1..d-1 carries exponent d - i - 3 + 2 eta.
        order = jnp.arange(d - 4, -3, -1, dtype=x.dtype)
        eta = self.concentration[..., None]
        unnorm = jnp.sum((order + 2.0 * eta) * log_diag, axis=-1)
        return unnorm - self._log_normaliser()

    def _sample(self, key, sample_shape):
        d = self.dimension
        eta = self.concentration
        shape = tuple(sample_shape) + self.batch_shape
        dtype = eta.dtype
        # One partial correlation per strictly-lower entry (i, j), at vine level j + 1:
        # Beta(b, b) on (-1, 1) with b = eta + (d - 2 - j) / 2.
        rows, cols = np.tril_indices(d, k=-1)
        beta = eta[..., None] + 0.5 * jnp.asarray(d - 2 - cols, dtype)
        beta = jnp.broadcast_to(beta, (2,) + shape + (rows.size,))
        # Beta(b, b) on (-1, 1) as tanh of half the log ratio of two Gamma(b) draws: one gamma
        # kernel, and log space avoids 0/0 when a small concentration underflows a gamma draw.
        log_g = log_gamma_sample(key, beta, beta.shape, dtype)
        tiny = jnp.finfo(dtype).eps
        entries = jnp.clip(jnp.tanh(0.5 * (log_g[0] - log_g[1])), -1.0 + tiny, 1.0 - tiny)
        partial = jnp.zeros(shape + (d, d), dtype).at[..., rows, cols].set(entries)
        # Stick breaking along each row: L_ij = rho_ij * sqrt(prod_{m<j} (1 - rho_im^2)).
        remaining = jnp.cumprod(1.0 - partial**2, axis=-1)
        remaining = jnp.concatenate([jnp.ones_like(remaining[..., :1]), remaining[..., :-1]], axis=-1)
        frac = partial + jnp.eye(d, dtype=dtype)
        return frac * jnp.sqrt(remaining)
