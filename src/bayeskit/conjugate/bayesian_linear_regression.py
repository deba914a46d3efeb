"""Bayesian linear regression with a normal-inverse-gamma prior on the weights and noise variance."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular
from jax.scipy.special import gammaln

from bayeskit._key import check_key
from bayeskit.conjugate._regression_data import (
    check_precision,
    design,
    design_and_targets,
    prior_precision_matrix,
)
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter, check_sample_shape
from bayeskit.dist._gamma_sampler import log_gamma_sample
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.multivariate_studentt import MultivariateStudentT
from bayeskit.dist.studentt import StudentT

__all__ = ["BayesianLinearRegression"]

_LOG_2PI = math.log(2 * math.pi)


class BayesianLinearRegression(eqx.Module):
    r"""Linear regression with unknown noise variance, updated in closed form.

    .. math::
        \sigma^2 \sim \mathrm{InvGamma}(a, b), \qquad
        w \mid \sigma^2 \sim \mathcal N(m, \sigma^2 \Lambda^{-1}), \qquad
        y \mid X, w, \sigma^2 \sim \mathcal N(X w, \sigma^2 I).

    The prior precision :math:`\Lambda` is in units of the noise precision, so the prior on the
    weights tightens and loosens with the noise. After :math:`n` rows,

    .. math::
        \Lambda_n = \Lambda + X^\top X, \quad
        m_n = \Lambda_n^{-1}(\Lambda m + X^\top y), \quad
        a_n = a + \frac n2, \quad
        b_n = b + \tfrac12\big(\lVert y - X m_n \rVert^2 + (m_n - m)^\top \Lambda (m_n - m)\big).

    The attributes hold the current belief (``loc`` = :math:`m`, ``precision`` = :math:`\Lambda`,
    ``concentration`` = :math:`a`, ``rate`` = :math:`b`): after :meth:`update` they are the
    posterior's, the prior for the next batch. Add a column of ones to ``X`` for an intercept.
    For a known noise variance use :class:`KnownNoiseLinearRegression`.

    Args:
        prior_mean: prior mean :math:`m` of the weights, shape ``(d,)``. Stored as ``loc``.
        prior_precision: :math:`\Lambda`: a positive scalar (:math:`\lambda I`), a vector of ``d``
            positive diagonal entries, or a symmetric positive definite ``(d, d)`` matrix. Stored as
            the ``(d, d)`` matrix ``precision``. Small values are a vague prior (ridge penalty
            :math:`\lambda` in the limit of the posterior mean).
        concentration: :math:`a > 0`, the inverse-gamma shape of the noise variance's prior.
        rate: :math:`b > 0`, the inverse-gamma scale of that prior.

    Example:
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])  # intercept + slope
        >>> y = jnp.array([1.0, 3.0, 5.1])
        >>> model = BayesianLinearRegression(jnp.zeros(2), 1e-6, 1.0, 1.0).update(X, y)
        >>> model.loc.round(3).tolist()  # close to least squares
        [0.983, 2.05]
        >>> y_new = model.predictive(jnp.array([[1.0, 3.0]]))  # StudentT of y at x = 3
        >>> model.posterior["noise_variance"]
        InverseGamma(concentration=2.5, rate=1.001)
    """

    loc: jax.Array
    precision: jax.Array
    concentration: jax.Array
    rate: jax.Array

    def __init__(self, prior_mean, prior_precision, concentration, rate):
        self.loc = as_float(prior_mean)
        self.precision = prior_precision_matrix("BayesianLinearRegression", self.loc, prior_precision)
        self.concentration = as_float(concentration)
        self.rate = as_float(rate)

    def __check_init__(self):
        name = "BayesianLinearRegression"
        check_parameter(name, "prior_mean", self.loc, C.real)
        check_precision(name, self.precision)
        check_parameter(
            name, "concentration", self.concentration, C.positive, "It must be a positive scalar."
        )
        check_parameter(name, "rate", self.rate, C.positive, "It must be a positive scalar.")
        for arg, value in (("concentration", self.concentration), ("rate", self.rate)):
            if jnp.ndim(value) != 0:
                raise ValueError(f"{name}: `{arg}` must be a scalar, but got shape {jnp.shape(value)}.")

    @property
    def num_features(self) -> int:
        """The number of weights ``d``."""
        return self.loc.shape[0]

    def _cholesky(self) -> jax.Array:
        return jnp.linalg.cholesky(self.precision)

    def update(self, X, y) -> BayesianLinearRegression:
        """Condition on rows ``(X, y)`` and return the updated model.

        Args:
            X: design matrix, shape ``(n, d)``.
            y: targets, shape ``(n,)``.

        Returns:
            A new ``BayesianLinearRegression`` holding the posterior's parameters.

        Raises:
            ValueError: if the shapes disagree or the data hold NaN or infinite values.
        """
        X, y = design_and_targets("BayesianLinearRegression.update", X, y, self.num_features)
        n = X.shape[0]
        if n == 0:
            return self
        precision = self.precision + X.T @ X
        precision = 0.5 * (precision + precision.T)
        chol = jnp.linalg.cholesky(precision)
        loc = cho_solve((chol, True), self.precision @ self.loc + X.T @ y)
        resid = y - X @ loc
        shift = loc - self.loc
        rate = self.rate + 0.5 * (resid @ resid + shift @ self.precision @ shift)
        return BayesianLinearRegression(loc, precision, self.concentration + 0.5 * n, rate)

    @property
    def covariance_factor(self) -> jax.Array:
        r"""Lower Cholesky factor of :math:`\Lambda^{-1}`, the weights' covariance per unit noise variance."""
        cov = cho_solve((self._cholesky(), True), jnp.eye(self.num_features, dtype=self.precision.dtype))
        return jnp.linalg.cholesky(0.5 * (cov + cov.T))

    @property
    def posterior(self) -> dict:
        r"""The current marginal beliefs: ``{"weights": ..., "noise_variance": ...}``.

        The weights' marginal is the ``MultivariateStudentT`` :math:`t_{2a}(m, (b/a)\Lambda^{-1})`
        (a scale matrix, not a covariance) and the noise variance's is the ``InverseGamma``
        :math:`\mathrm{InvGamma}(a, b)`. They are not independent: use :meth:`sample_posterior`
        for joint draws.
        """
        a, b = self.concentration, self.rate
        return {
            "weights": MultivariateStudentT(2 * a, self.loc, jnp.sqrt(b / a) * self.covariance_factor),
            "noise_variance": InverseGamma(a, b),
        }

    def predictive(self, X_new) -> StudentT:
        r"""The posterior predictive of ``y`` at each row of ``X_new``, independently.

        .. math:: y_* \sim t_{2a}\Big(x_*^\top m,\; \sqrt{\tfrac ba\,(1 + x_*^\top \Lambda^{-1} x_*)}\Big).

        Args:
            X_new: inputs, shape ``(m, d)``, or ``(d,)`` for one point.

        Returns:
            A ``StudentT`` of batch shape ``(m,)`` (or ``()``).
        """
        x = design("BayesianLinearRegression.predictive", "X_new", X_new, self.num_features)
        v = solve_triangular(self._cholesky(), x.T, lower=True)
        leverage = jnp.sum(v**2, axis=0)
        a, b = self.concentration, self.rate
        return StudentT(2 * a, x @ self.loc, jnp.sqrt(b / a * (1 + leverage)))

    def joint_predictive(self, X_new) -> MultivariateStudentT:
        r"""The joint posterior predictive of ``y`` at all rows of ``X_new``.

        .. math:: y_* \sim t_{2a}\big(X_* m,\; \tfrac ba (I + X_* \Lambda^{-1} X_*^\top)\big).

        Args:
            X_new: inputs, shape ``(m, d)``.

        Returns:
            A ``MultivariateStudentT`` with event shape ``(m,)``.
        """
        x = design("BayesianLinearRegression.joint_predictive", "X_new", X_new, self.num_features)
        if x.ndim != 2:
            x = x[None]
        v = solve_triangular(self._cholesky(), x.T, lower=True)
        scale = jnp.eye(x.shape[0], dtype=v.dtype) + v.T @ v
        a, b = self.concentration, self.rate
        return MultivariateStudentT(2 * a, x @ self.loc, jnp.sqrt(b / a) * jnp.linalg.cholesky(scale))

    def sample_posterior(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> dict:
        """Draw ``(weights, noise_variance)`` jointly from the current belief.

        Args:
            key: a ``jax.random`` key.
            sample_shape: leading shape of the draws.

        Returns:
            ``{"weights": array of shape sample_shape + (d,),
            "noise_variance": array of shape sample_shape}``.
        """
        key = check_key(key, "BayesianLinearRegression.sample_posterior")
        sample_shape = check_sample_shape(sample_shape, "BayesianLinearRegression.sample_posterior")
        key_var, key_w = jax.random.split(key)
        shape = tuple(sample_shape)
        dtype = self.loc.dtype
        variance = self.rate * jnp.exp(-log_gamma_sample(key_var, self.concentration, shape, dtype))
        z = jax.random.normal(key_w, shape + (self.num_features,), dtype=dtype)
        # w = m + sigma * L^{-T} z has covariance sigma^2 (L L^T)^{-1} = sigma^2 Lambda^{-1}.
        w = solve_triangular(self._cholesky().T, z[..., None], lower=False)[..., 0]
        return {"weights": self.loc + jnp.sqrt(variance)[..., None] * w, "noise_variance": variance}

    def log_marginal_likelihood(self, X, y) -> jax.Array:
        r"""Log evidence of ``y`` given ``X`` under the current belief, weights and noise integrated out.

        .. math::
            \log p(y \mid X) = -\tfrac n2\log(2\pi) + \tfrac12\big(\log|\Lambda| - \log|\Lambda_n|\big)
            + a\log b - a_n\log b_n + \log\Gamma(a_n) - \log\Gamma(a).

        Args:
            X: design matrix, shape ``(n, d)``.
            y: targets, shape ``(n,)``.

        Returns:
            The log evidence, a scalar.
        """
        X, y = design_and_targets("BayesianLinearRegression.log_marginal_likelihood", X, y, self.num_features)
        post = self.update(X, y)
        half_logdet = jnp.sum(jnp.log(jnp.diagonal(self._cholesky())))
        half_logdet_n = jnp.sum(jnp.log(jnp.diagonal(post._cholesky())))
        a, b, a_n, b_n = self.concentration, self.rate, post.concentration, post.rate
        return (
            -0.5 * X.shape[0] * _LOG_2PI
            + half_logdet
            - half_logdet_n
            + a * jnp.log(b)
            - a_n * jnp.log(b_n)
            + gammaln(a_n)
            - gammaln(a)
        )
