"""Bayesian linear regression with a normal prior on the weights and a known noise scale."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular

from bayeskit.conjugate._regression_data import (
    check_precision,
    design,
    design_and_targets,
    prior_precision_matrix,
)
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.normal import Normal

__all__ = ["KnownNoiseLinearRegression"]

_LOG_2PI = math.log(2 * math.pi)


class KnownNoiseLinearRegression(eqx.Module):
    r"""Linear regression with a known noise standard deviation, updated in closed form.

    .. math::
        w \sim \mathcal N(m, \Lambda^{-1}), \qquad
        y \mid X, w \sim \mathcal N(X w, \sigma^2 I).

    After :math:`n` rows,

    .. math::
        \Lambda_n = \Lambda + \frac{X^\top X}{\sigma^2}, \qquad
        m_n = \Lambda_n^{-1}\Big(\Lambda m + \frac{X^\top y}{\sigma^2}\Big).

    The attributes hold the current belief (``loc`` = :math:`m`, ``precision`` = :math:`\Lambda`):
    after :meth:`update` they are the posterior's, the prior for the next batch. Unlike
    :class:`BayesianLinearRegression`, :math:`\Lambda` here is an absolute precision, not one
    relative to the noise.

    Args:
        prior_mean: prior mean :math:`m` of the weights, shape ``(d,)``. Stored as ``loc``.
        prior_precision: :math:`\Lambda`: a positive scalar, a vector of ``d`` positive diagonal
            entries, or a symmetric positive definite ``(d, d)`` matrix (the inverse of the prior
            covariance). Stored as the ``(d, d)`` matrix ``precision``.
        noise_scale: the known noise standard deviation :math:`\sigma > 0`.

    Example:
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
        >>> model = KnownNoiseLinearRegression(jnp.zeros(2), 1.0, noise_scale=0.5)
        >>> model = model.update(X, jnp.array([1.0, 3.0, 5.1]))
        >>> weights = model.posterior  # MultivariateNormal
        >>> y_new = model.predictive(jnp.array([[1.0, 3.0]]))  # Normal at x = 3
    """

    loc: jax.Array
    precision: jax.Array
    noise_scale: jax.Array

    def __init__(self, prior_mean, prior_precision, noise_scale):
        self.loc = as_float(prior_mean)
        self.precision = prior_precision_matrix("KnownNoiseLinearRegression", self.loc, prior_precision)
        self.noise_scale = as_float(noise_scale)

    def __check_init__(self):
        name = "KnownNoiseLinearRegression"
        check_parameter(name, "prior_mean", self.loc, C.real)
        check_precision(name, self.precision)
        check_parameter(
            name,
            "noise_scale",
            self.noise_scale,
            C.positive,
            "It is the noise standard deviation: pass a positive number.",
        )
        if jnp.ndim(self.noise_scale) != 0:
            raise ValueError(
                f"{name}: `noise_scale` must be a scalar, but got shape {jnp.shape(self.noise_scale)}."
            )

    @property
    def num_features(self) -> int:
        """The number of weights ``d``."""
        return self.loc.shape[0]

    def _cholesky(self) -> jax.Array:
        return jnp.linalg.cholesky(self.precision)

    def update(self, X, y) -> KnownNoiseLinearRegression:
        """Condition on rows ``(X, y)`` and return the updated model.

        Args:
            X: design matrix, shape ``(n, d)``.
            y: targets, shape ``(n,)``.

        Returns:
            A new ``KnownNoiseLinearRegression`` holding the posterior's mean and precision.

        Raises:
            ValueError: if the shapes disagree or the data hold NaN or infinite values.
        """
        X, y = design_and_targets("KnownNoiseLinearRegression.update", X, y, self.num_features)
        if X.shape[0] == 0:
            return self
        noise_var = self.noise_scale**2
        precision = self.precision + X.T @ X / noise_var
        precision = 0.5 * (precision + precision.T)
        chol = jnp.linalg.cholesky(precision)
        loc = cho_solve((chol, True), self.precision @ self.loc + X.T @ y / noise_var)
        return KnownNoiseLinearRegression(loc, precision, self.noise_scale)

    @property
    def posterior(self) -> MultivariateNormal:
        """The current belief about the weights, ``MultivariateNormal(loc, precision_matrix=precision)``."""
        return MultivariateNormal(self.loc, precision_matrix=self.precision)

    def predictive(self, X_new) -> Normal:
        r"""The posterior predictive of ``y`` at each row of ``X_new``, independently.

        .. math:: y_* \sim \mathcal N\big(x_*^\top m,\; \sqrt{\sigma^2 + x_*^\top \Lambda^{-1} x_*}\big).

        Args:
            X_new: inputs, shape ``(m, d)``, or ``(d,)`` for one point.

        Returns:
            A ``Normal`` of batch shape ``(m,)`` (or ``()``).
        """
        x = design("KnownNoiseLinearRegression.predictive", "X_new", X_new, self.num_features)
        v = solve_triangular(self._cholesky(), x.T, lower=True)
        return Normal(x @ self.loc, jnp.sqrt(self.noise_scale**2 + jnp.sum(v**2, axis=0)))

    def joint_predictive(self, X_new) -> MultivariateNormal:
        r"""The joint posterior predictive :math:`\mathcal N(X_* m, \sigma^2 I + X_* \Lambda^{-1} X_*^\top)`.

        Args:
            X_new: inputs, shape ``(m, d)``.

        Returns:
            A ``MultivariateNormal`` with event shape ``(m,)``.
        """
        x = design("KnownNoiseLinearRegression.joint_predictive", "X_new", X_new, self.num_features)
        if x.ndim != 2:
            x = x[None]
        v = solve_triangular(self._cholesky(), x.T, lower=True)
        cov = self.noise_scale**2 * jnp.eye(x.shape[0], dtype=v.dtype) + v.T @ v
        return MultivariateNormal(x @ self.loc, scale_tril=jnp.linalg.cholesky(cov))

    def log_marginal_likelihood(self, X, y) -> jax.Array:
        r"""Log evidence of ``y`` given ``X`` under the current belief, the weights integrated out.

        .. math::
            \log p(y \mid X) = -\tfrac n2 \log(2\pi\sigma^2)
            + \tfrac12\big(\log|\Lambda| - \log|\Lambda_n|\big)
            - \frac{\lVert y - X m_n\rVert^2}{2\sigma^2} - \tfrac12 (m_n - m)^\top \Lambda (m_n - m).

        Args:
            X: design matrix, shape ``(n, d)``.
            y: targets, shape ``(n,)``.

        Returns:
            The log evidence, a scalar.
        """
        X, y = design_and_targets(
            "KnownNoiseLinearRegression.log_marginal_likelihood", X, y, self.num_features
        )
        post = self.update(X, y)
        noise_var = self.noise_scale**2
        resid = y - X @ post.loc
        shift = post.loc - self.loc
        half_logdet = jnp.sum(jnp.log(jnp.diagonal(self._cholesky())))
        half_logdet_n = jnp.sum(jnp.log(jnp.diagonal(post._cholesky())))
        return (
            -0.5 * X.shape[0] * (_LOG_2PI + jnp.log(noise_var))
            + half_logdet
            - half_logdet_n
            - 0.5 * resid @ resid / noise_var
            - 0.5 * shift @ self.precision @ shift
        )
