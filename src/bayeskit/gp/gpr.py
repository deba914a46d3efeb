"""Exact Gaussian process regression with hyperparameters learned by marginal likelihood."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._background_compile import BackgroundCompile
from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.gp._data import check_inputs, check_training_data, warn_constant_targets
from bayeskit.gp._fit import FitInfo, check_fit_options, check_log_prior, maximize, nonfinite_prior_error
from bayeskit.gp._precise import dot, matmul
from bayeskit.gp.cholesky import NotPositiveDefiniteError, cho_solve, jittered_cholesky, solve_lower
from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive
from bayeskit.gp.marginal_likelihood import gaussian_log_marginal
from bayeskit.gp.means import MeanFunction, ZeroMean
from bayeskit.gp.prediction import GPPrediction

__all__ = ["GPR"]

_LOG_2PI = math.log(2.0 * math.pi)


class _Hyper(eqx.Module):
    """The learned part of a GPR: kernel, mean function and log noise variance.

    ``log_prior_fn`` is static: fits with the same prior function (or none) share one compiled
    optimiser, and no cache of objectives is kept anywhere.
    """

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    log_prior_fn: Callable | None = eqx.field(static=True, default=None)

    @property
    def noise(self):
        return exp_positive(self.log_noise)


def _covariance(hyper: _Hyper, X) -> jax.Array:
    return _add_to_diagonal(hyper.kernel._gram(X), hyper.noise)


@jax.custom_vjp
def _add_to_diagonal(K, v):
    """``K + v I`` in the same pass that builds ``K``; ``v``'s gradient reads only the diagonal.

    (Autodiff of ``K + v * eye`` sums the whole n^2 cotangent against the identity, and
    ``K.at[i, i].add(v)`` costs a copy of ``K``.)
    """
    return K + v * jnp.eye(K.shape[0], dtype=K.dtype)


def _add_to_diagonal_forward(K, v):
    # Empty arrays carry the inputs' dtypes: a float32 K with a float64 noise (or the reverse)
    # gives a result of the wider type, and each cotangent must come back in its input's type.
    return _add_to_diagonal(K, v), (jnp.zeros((0,), K.dtype), jnp.zeros((0,), jnp.result_type(v)))


def _add_to_diagonal_backward(dtypes, G):
    K_like, v_like = dtypes
    return G.astype(K_like.dtype), jnp.sum(jnp.diagonal(G)).astype(v_like.dtype)


_add_to_diagonal.defvjp(_add_to_diagonal_forward, _add_to_diagonal_backward)


def _log_marginal(hyper: _Hyper, X, y):
    value, _ = gaussian_log_marginal(_covariance(hyper, X), y - hyper.mean(X))
    return value


def _objective(hyper: _Hyper, X, y):
    """Log marginal likelihood, plus the log prior of the hyperparameters when there is one."""
    value = _log_marginal(hyper, X, y)
    if hyper.log_prior_fn is not None:
        value = value + hyper.log_prior_fn(_as_view(hyper))
    return value


class _View(eqx.Module):
    """What a user's ``log_prior_fn`` sees: ``kernel``, ``mean`` and ``noise`` (constrained)."""

    kernel: Kernel
    mean: MeanFunction
    noise: jax.Array


def _as_view(hyper: _Hyper) -> _View:
    return _View(hyper.kernel, hyper.mean, hyper.noise)


@eqx.filter_jit
def _condition(hyper: _Hyper, X, y, loc, scale):
    """Factor, weights and log marginal likelihood of ``y`` (original units) given standardised
    ``(y - loc) / scale`` is modelled."""
    r = (y - loc) / scale - hyper.mean(X)
    L, jitter = jittered_cholesky(_covariance(hyper, X))
    alpha = cho_solve(L, r)
    value = -0.5 * dot(r, alpha) - jnp.sum(jnp.log(jnp.diagonal(L))) - 0.5 * r.shape[0] * _LOG_2PI
    # The density of y itself: y = loc + scale * ys.
    value = jnp.where(jnp.isfinite(value), value - r.shape[0] * jnp.log(scale), -jnp.inf)
    return L, alpha, jitter, value


@eqx.filter_jit
def _predict(hyper: _Hyper, X, L, alpha, X_new, full_cov: bool):
    K_star = hyper.kernel._matrix(X, X_new, False)  # (n, m)
    mean = hyper.mean(X_new) + matmul(K_star.T, alpha)
    V = solve_lower(L, K_star)
    if full_cov:
        cov = hyper.kernel._matrix(X_new, X_new, True) - matmul(V.T, V)
        latent_var = jnp.maximum(jnp.diagonal(cov), 0.0)
    else:
        cov = None
        latent_var = jnp.maximum(hyper.kernel._diag(X_new) - jnp.sum(V * V, axis=0), 0.0)
    return mean, latent_var, cov


class GPR(eqx.Module):
    r"""Exact Gaussian process regression: y = f(x) + e, f ~ GP(m, k), e ~ N(0, noise).

    ``fit(X, y)`` learns the kernel's hyperparameters, the mean's parameters and ``noise`` by
    maximising the log marginal likelihood

    .. math:: \log p(y \mid X) = -\tfrac12 (y - m)^\top (K + \sigma^2 I)^{-1} (y - m)
              - \tfrac12 \log |K + \sigma^2 I| - \tfrac n2 \log 2\pi

    with L-BFGS from several starts, and returns a new, fitted GPR (this one is unchanged).
    Everything is exact: there is no silent switch to an approximation at any size (see
    ``bayeskit.gp.SGPR`` for large n). The values given here are the starting point.

    Args:
        kernel: the covariance function (e.g. ``RBF(lengthscale=jnp.ones(d))`` for ARD).
        mean: the prior mean function (default zero).
        noise: the observation noise *variance* sigma^2 (positive).
        standardize: fit on ``(y - mean(y)) / sd(y)`` and map predictions back; the kernel
            variance and ``noise`` are then in standardised units.

    Example:
        >>> X = jnp.linspace(0, 6, 40)[:, None]; y = jnp.sin(X[:, 0])
        >>> gp = GPR(RBF(), noise=0.1).fit(X, y)
        >>> pred = gp.predict(jnp.array([[1.0]]))
        >>> pred.mean, pred.latent_var, pred.predictive_var  # doctest: +SKIP
    """

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    standardize: bool = eqx.field(static=True)
    X: jax.Array | None
    y: jax.Array | None
    y_loc: jax.Array
    y_scale: jax.Array
    cholesky: jax.Array | None
    alpha: jax.Array | None
    jitter: jax.Array
    log_marginal: jax.Array | None
    fit_info: FitInfo | None = eqx.field(static=True)

    def __init__(
        self,
        kernel: Kernel,
        mean: MeanFunction | None = None,
        noise=1e-2,
        standardize: bool = False,
        *,
        _fitted: tuple | None = None,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(
                f"GPR: `kernel` must be a bayeskit.gp.kernels.Kernel, got {type(kernel).__name__}."
            )
        mean = ZeroMean() if mean is None else mean
        if not isinstance(mean, MeanFunction):
            raise TypeError(f"GPR: `mean` must be a bayeskit.gp.MeanFunction, got {type(mean).__name__}.")
        self.kernel = kernel
        self.mean = mean
        self.log_noise = log_positive("GPR", "noise", noise)
        if self.log_noise.ndim != 0:
            raise ValueError("GPR: `noise` must be a scalar variance.")
        self.standardize = bool(standardize)
        X, y, loc, scale, L, alpha, jitter, value, info = _fitted or (None,) * 9
        self.X, self.y, self.cholesky, self.alpha, self.log_marginal = X, y, L, alpha, value
        self.y_loc = jnp.asarray(0.0) if loc is None else loc
        self.y_scale = jnp.asarray(1.0) if scale is None else scale
        self.jitter = jnp.asarray(0.0) if jitter is None else jitter
        self.fit_info = info

    # -- hyperparameters -----------------------------------------------------------------------
    @property
    def noise(self) -> jax.Array:
        """The observation noise variance (in standardised units when ``standardize=True``)."""
        return exp_positive(self.log_noise)

    @property
    def is_fitted(self) -> bool:
        return self.X is not None

    def _hyper(self) -> _Hyper:
        return _Hyper(self.kernel, self.mean, self.log_noise)

    def _prepare(self, X, y, keep_scaling: bool = False):
        X, y = check_training_data("GPR", X, y)
        if self.kernel.num_features is not None and self.kernel.num_features != X.shape[1]:
            self.kernel._check(X, "X")  # raises, naming the mismatch
        if self.standardize and keep_scaling and self.is_fitted:
            # The fitted kernel variance and noise are in the units the training data set: data
            # conditioned on later is scaled the same way, or those values would mean other things.
            return X, y, self.y_loc.astype(y.dtype), self.y_scale.astype(y.dtype)
        # Host arithmetic on concrete data: eager jnp reductions compile a program per shape.
        if self.standardize:
            y_host = np.asarray(y)
            loc, scale = float(np.mean(y_host)), float(np.std(y_host))
            scale = scale if scale > 0 else 1.0
        else:
            loc, scale = 0.0, 1.0
        return X, y, jax.device_put(np.asarray(loc, y.dtype)), jax.device_put(np.asarray(scale, y.dtype))

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        *,
        key: jax.Array | None = None,
        num_restarts: int = 3,
        max_iterations: int = 200,
        tol: float | None = None,
        log_prior_fn: Callable | None = None,
        fixed: tuple[str, ...] = (),
    ) -> GPR:
        """Learn hyperparameters by maximum marginal likelihood (or MAP) and condition on the data.

        Args:
            X: inputs ``(n, d)`` (a 1-D array is one column).
            y: targets ``(n,)``.
            key: random restarts when given; without one, restarts follow a fixed Halton design
                around the starting values, so a fit is reproducible.
            num_restarts: number of L-BFGS starts (the first is the values given to ``GPR``);
                3 by default, as for ``GPC``. ``SGPR`` defaults to 1 because one of its starts
                costs a whole large-n fit.
            max_iterations: L-BFGS iterations per start.
            tol: stop when every gradient entry of the per-point objective is below ``tol``
                (default 1e-6 when the objective is float64, as it is when the data or any
                hyperparameter is, 1e-3 in float32).
            log_prior_fn: optional ``f(view) -> log prior`` of the constrained hyperparameters
                (``view.kernel``, ``view.mean``, ``view.noise``); the fit is then a MAP estimate.
            fixed: hyperparameters to keep at their given value, as dotted paths
                (``"noise"``, ``"kernel.period"``, ``"kernel.k2.lengthscale"``).

        Returns:
            A fitted GPR; ``fit_info`` says how the optimisation went.

        Raises:
            NotPositiveDefiniteError: when no start gives a factorisable covariance.
            ValueError: an option out of range, a `fixed` path that is not a hyperparameter, or a
                `log_prior_fn` that does not return a real scalar (or is not finite at the start).
        """
        X, y, loc, scale = self._prepare(X, y)
        warn_constant_targets("GPR.fit", y)
        ys = jnp.asarray((np.asarray(y) - np.asarray(loc)) / np.asarray(scale))
        start = _Hyper(self.kernel, self.mean, self.log_noise, log_prior_fn)
        options = dict(
            key=key, num_restarts=num_restarts, max_iterations=max_iterations, tol=tol, fixed=fixed
        )
        options = check_fit_options("GPR.fit", start, **options)
        check_log_prior("GPR.fit", log_prior_fn, _as_view(start))
        # The final conditioning has the start's structure and shapes: it compiles while L-BFGS runs.
        conditioning = BackgroundCompile(_condition.lower(start, X, y, loc, scale))
        hyper, info = maximize(_objective, start, (X, ys), owner="GPR.fit", **options)
        if not np.isfinite(info.objective):
            if (error := nonfinite_prior_error("GPR.fit", log_prior_fn, _as_view(start))) is not None:
                raise error
            raise NotPositiveDefiniteError(
                "GPR.fit: the covariance matrix K + noise I could not be factorised from any start, "
                "even with jitter. Standardise the inputs and targets, raise the starting `noise`, "
                "remove duplicated inputs, or use float64 (jax_enable_x64)."
            )
        return self._conditioned(hyper, X, y, loc, scale, info, conditioning.result()[0])

    def condition(self, X, y) -> GPR:
        """Condition on ``(X, y)`` with the hyperparameters as they are (no optimisation).

        With ``standardize=True`` a fitted GPR keeps the location and scale of the data it was
        fitted on (its kernel variance and noise are in those units); an unfitted one takes them
        from ``y``.
        """
        X, y, loc, scale = self._prepare(X, y, keep_scaling=True)
        return self._conditioned(self._hyper(), X, y, loc, scale, None)

    def _conditioned(self, hyper, X, y, loc, scale, info, condition=_condition) -> GPR:
        L, alpha, jitter, value = condition(hyper, X, y, loc, scale)
        if not np.isfinite(np.asarray(value)):
            raise NotPositiveDefiniteError(
                "GPR: the covariance matrix K + noise I is not positive definite even with the "
                f"largest jitter; kernel={hyper.kernel!r}, noise={float(hyper.noise):.3g}. Raise `noise`, "
                "remove duplicated inputs, standardise X, or use float64."
            )
        return GPR(
            hyper.kernel,
            hyper.mean,
            np.exp(np.asarray(hyper.log_noise)),
            self.standardize,
            _fitted=(X, y, loc, scale, L, alpha, jitter, value, info),
        )

    # -- using a fitted model ------------------------------------------------------------------
    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise ValueError(f"GPR.{what}: this GPR has not been fitted; call `gp = gp.fit(X, y)` first.")

    def log_marginal_likelihood(self, X=None, y=None) -> jax.Array:
        """log p(y | X, hyperparameters), of the training data or of the ``(X, y)`` given."""
        if X is None and y is None:
            self._require_fitted("log_marginal_likelihood")
            return self.log_marginal
        if X is None or y is None:
            raise ValueError("GPR.log_marginal_likelihood: give both `X` and `y`, or neither.")
        return self.condition(X, y).log_marginal

    def predict(self, X_new, full_cov: bool = False) -> GPPrediction:
        """Predict at ``X_new``: mean, ``latent_var`` (of f) and ``predictive_var`` (of y, with noise).

        Args:
            X_new: inputs ``(m, d)``.
            full_cov: also return the ``(m, m)`` latent covariance.
        """
        self._require_fitted("predict")
        X_new = check_inputs("GPR.predict", X_new, "X_new", self.X.shape[1])
        mean, latent_var, cov = _predict(self._hyper(), self.X, self.cholesky, self.alpha, X_new, full_cov)
        return GPPrediction.in_original_units(mean, latent_var, cov, self.noise, self.y_loc, self.y_scale)

    def sample(self, key: jax.Array, X_new, num_samples: int = 1, include_noise: bool = False) -> jax.Array:
        """Draw functions from the posterior at ``X_new``: shape ``(num_samples, m)``.

        With ``include_noise`` the draws are of new observations y*, otherwise of f(x*).
        """
        key = check_key(key, "GPR.sample")
        num_samples = check_int("GPR.sample", "num_samples", num_samples)
        noise = self.noise * self.y_scale**2 if include_noise else None
        return self.predict(X_new, full_cov=True).sample(key, num_samples, noise_variance=noise)

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "unfitted"
        extra = f", log_marginal={float(self.log_marginal):.4f}" if self.is_fitted else ""
        return f"GPR({self.kernel!r}, mean={self.mean!r}, noise={float(self.noise):.4g}, {state}{extra})"
