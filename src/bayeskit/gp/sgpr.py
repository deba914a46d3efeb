"""Sparse GP regression (SGPR): Titsias' collapsed variational bound with learned inducing inputs."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from bayeskit._background_compile import BackgroundCompile
from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.gp._data import check_inputs, check_training_data, warn_constant_targets
from bayeskit.gp._fit import FitInfo, check_fit_options, check_log_prior, maximize, nonfinite_prior_error
from bayeskit.gp._precise import dot, matmul
from bayeskit.gp._sparse_inducing import (
    check_inducing_columns,
    check_inducing_points,
    inducing_cholesky,
    select_inducing,
)
from bayeskit.gp.cholesky import NotPositiveDefiniteError
from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive
from bayeskit.gp.means import MeanFunction, ZeroMean
from bayeskit.gp.prediction import GPPrediction

__all__ = ["SGPR"]

_LOG_2PI = math.log(2.0 * math.pi)


class _Hyper(eqx.Module):
    """The learned part of an SGPR: kernel, mean, log noise variance and inducing inputs Z.

    ``log_prior_fn`` is static, as in GPR: fits with the same prior function (or none) share one
    compiled objective.
    """

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    inducing_points: jax.Array
    log_prior_fn: Callable | None = eqx.field(static=True, default=None)

    @property
    def noise(self):
        return exp_positive(self.log_noise)


class _View(eqx.Module):
    """What a user's ``log_prior_fn`` sees: ``kernel``, ``mean``, ``noise`` (constrained) and
    ``inducing_points``."""

    kernel: Kernel
    mean: MeanFunction
    noise: jax.Array
    inducing_points: jax.Array


def _as_view(hyper: _Hyper) -> _View:
    return _View(hyper.kernel, hyper.mean, hyper.noise, hyper.inducing_points)


def _factors(hyper: _Hyper, X, y):
    """The bound and the factors the predictions reuse, in O(n m^2) time and O(n m) memory.

    With K_mm = L L^T, A = L^{-1} K_mn / sigma and B = I + A A^T = L_B L_B^T, Woodbury and the
    determinant lemma give Q + sigma^2 I = sigma^2 (I + A^T A), so
    log|Q + sigma^2 I| = n log sigma^2 + log|B| and
    r^T (Q + sigma^2 I)^{-1} r = r^T r / sigma^2 - c^T c with c = L_B^{-1} A r / sigma.
    """
    Z = hyper.inducing_points
    L, jitter = inducing_cholesky(hyper.kernel, Z)
    sigma2 = hyper.noise
    A = solve_triangular(L, hyper.kernel._matrix(Z, X, False), lower=True) / jnp.sqrt(sigma2)
    L_B = jnp.linalg.cholesky(jnp.eye(Z.shape[0], dtype=A.dtype) + matmul(A, A.T))
    r = y - hyper.mean(X)
    c = solve_triangular(L_B, matmul(A, r), lower=True) / jnp.sqrt(sigma2)
    n = X.shape[0]
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L_B))) + n * hyper.log_noise
    quad = dot(r, r) / sigma2 - dot(c, c)
    trace = jnp.sum(hyper.kernel._diag(X)) / sigma2 - jnp.sum(A * A)  # tr(K - Q) / sigma^2
    bound = -0.5 * (n * _LOG_2PI + log_det + quad + trace)
    bound = jnp.where(jnp.isfinite(bound), bound, -jnp.inf)
    return bound, L, L_B, c, jitter


def _objective(hyper: _Hyper, X, y):
    """The bound, plus the log prior of the hyperparameters when there is one: what ``maximize``
    climbs (module level, so refits reuse its compiled value and gradient)."""
    value = _factors(hyper, X, y)[0]
    if hyper.log_prior_fn is not None:
        value = value + hyper.log_prior_fn(_as_view(hyper))
    return value


_condition = eqx.filter_jit(_factors)


@eqx.filter_jit
def _predict(hyper: _Hyper, L, L_B, c, X_new, full_cov: bool):
    Z = hyper.inducing_points
    T1 = solve_triangular(L, hyper.kernel._matrix(Z, X_new, False), lower=True)  # L^{-1} K_m*
    T2 = solve_triangular(L_B, T1, lower=True)
    mean = hyper.mean(X_new) + matmul(T2.T, c)
    if full_cov:
        cov = hyper.kernel._matrix(X_new, X_new, True) - matmul(T1.T, T1) + matmul(T2.T, T2)
        latent_var = jnp.maximum(jnp.diagonal(cov), 0.0)
    else:
        cov = None
        latent_var = hyper.kernel._diag(X_new) - jnp.sum(T1 * T1, axis=0) + jnp.sum(T2 * T2, axis=0)
        latent_var = jnp.maximum(latent_var, 0.0)
    return mean, latent_var, cov


class SGPR(eqx.Module):
    r"""Sparse GP regression with Titsias' (2009) collapsed variational bound: O(n m^2) for m inducing inputs.

    The exact posterior is approximated through m inducing variables u = f(Z) whose optimal
    Gaussian distribution q(u) is found in closed form; what remains is a lower bound on the log
    marginal likelihood,

    .. math:: \mathcal{L} = \log \mathcal N(y \mid m, Q + \sigma^2 I)
              - \frac{1}{2\sigma^2} \operatorname{tr}(K - Q), \qquad Q = K_{nm} K_{mm}^{-1} K_{mn},

    which ``fit`` maximises over the kernel's hyperparameters, the mean's parameters, ``noise``
    *and* the inducing inputs Z, with L-BFGS. Only m x m matrices are factorised (the n x n
    matrices K and Q are never formed). The trace term is the variance the inducing points fail
    to explain; when it is small the bound is tight and the predictions match exact GPR (with
    Z = X they are equal). Predictions use the optimal q(u):

    .. math:: \mu_* = \sigma^{-2} K_{*m} \Sigma K_{mn} (y - m), \quad
              \operatorname{var}_* = k_{**} - Q_{**} + K_{*m} \Sigma K_{m*}, \quad
              \Sigma = (K_{mm} + \sigma^{-2} K_{mn} K_{nm})^{-1}.

    Reference: M. Titsias, "Variational learning of inducing variables in sparse Gaussian
    processes", AISTATS 2009.

    Args:
        kernel: the covariance function.
        inducing_points: initial inducing inputs Z ``(m, d)`` (see :func:`select_inducing`), or an
            integer m: ``fit`` then chooses m rows of X with ``select_inducing`` (k-means++ with the
            fit's key, farthest-point traversal without one).
        mean: the prior mean function (default zero).
        noise: the observation noise *variance* sigma^2 (positive).
        standardize: fit on ``(y - mean(y)) / sd(y)`` and map predictions back.

    Example:
        >>> X = jnp.linspace(0, 10, 5000)[:, None]; y = jnp.sin(X[:, 0]) + 0.1 * noise
        >>> gp = SGPR(RBF(), inducing_points=30, noise=0.1).fit(X, y)
        >>> gp.elbo(), gp.predict(jnp.array([[1.0]])).mean  # doctest: +SKIP
    """

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    inducing_points: jax.Array | None
    num_inducing: int = eqx.field(static=True)
    standardize: bool = eqx.field(static=True)
    num_data: int | None = eqx.field(static=True)
    y_loc: jax.Array
    y_scale: jax.Array
    cholesky_mm: jax.Array | None
    cholesky_b: jax.Array | None
    projected_residual: jax.Array | None
    jitter: jax.Array
    bound: jax.Array | None
    fit_info: FitInfo | None = eqx.field(static=True)

    def __init__(
        self,
        kernel: Kernel,
        inducing_points,
        mean: MeanFunction | None = None,
        noise=1e-2,
        standardize: bool = False,
        *,
        _fitted: tuple | None = None,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(
                f"SGPR: `kernel` must be a bayeskit.gp.kernels.Kernel, got {type(kernel).__name__}."
            )
        mean = ZeroMean() if mean is None else mean
        if not isinstance(mean, MeanFunction):
            raise TypeError(f"SGPR: `mean` must be a bayeskit.gp.MeanFunction, got {type(mean).__name__}.")
        self.kernel = kernel
        self.mean = mean
        self.inducing_points, self.num_inducing = check_inducing_points("SGPR", inducing_points, kernel)
        self.log_noise = log_positive("SGPR", "noise", noise)
        if self.log_noise.ndim != 0:
            raise ValueError("SGPR: `noise` must be a scalar variance.")
        self.standardize = bool(standardize)
        n, loc, scale, L, L_B, c, jitter, bound, info = _fitted or (None,) * 9
        self.num_data, self.cholesky_mm, self.cholesky_b, self.projected_residual = n, L, L_B, c
        self.y_loc = jnp.asarray(0.0) if loc is None else loc
        self.y_scale = jnp.asarray(1.0) if scale is None else scale
        self.jitter = jnp.asarray(0.0) if jitter is None else jitter
        self.bound, self.fit_info = bound, info

    # -- hyperparameters -----------------------------------------------------------------------
    @property
    def noise(self) -> jax.Array:
        """The observation noise variance (in standardised units when ``standardize=True``)."""
        return exp_positive(self.log_noise)

    @property
    def is_fitted(self) -> bool:
        return self.bound is not None

    def _prepare(self, owner: str, X, y, key, keep_scaling: bool = False, log_prior_fn=None):
        X, y = check_training_data(owner, X, y)
        if self.kernel.num_features is not None and self.kernel.num_features != X.shape[1]:
            self.kernel._check(X, "X")  # raises, naming the mismatch
        Z = self.inducing_points
        if Z is None:
            if self.num_inducing > X.shape[0]:
                raise ValueError(
                    f"{owner}: `inducing_points` asks for {self.num_inducing} points but `X` has only "
                    f"{X.shape[0]} rows; use at most n inducing points (or exact GPR for small n)."
                )
            Z = select_inducing(key, X, self.num_inducing).astype(X.dtype)
        check_inducing_columns(owner, Z, X)
        if self.standardize and keep_scaling and self.is_fitted:
            # The fitted hyperparameters are in the units of the training data: keep its scaling.
            loc, scale = self.y_loc.astype(y.dtype), self.y_scale.astype(y.dtype)
        elif self.standardize:
            loc, scale = jnp.mean(y), jnp.std(y)
            scale = jnp.where(scale > 0, scale, 1.0)
        else:
            loc, scale = jnp.asarray(0.0, y.dtype), jnp.asarray(1.0, y.dtype)
        hyper = _Hyper(self.kernel, self.mean, self.log_noise, Z.astype(X.dtype), log_prior_fn)
        return X, y, loc, scale, hyper

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        *,
        key: jax.Array | None = None,
        num_restarts: int = 1,
        max_iterations: int = 200,
        tol: float | None = None,
        log_prior_fn: Callable | None = None,
        fixed: tuple[str, ...] = (),
    ) -> SGPR:
        """Maximise the bound (+ log prior) over hyperparameters and inducing inputs; condition on the data.

        Args:
            X: inputs ``(n, d)`` (a 1-D array is one column).
            y: targets ``(n,)``.
            key: optional; chooses the inducing points (when ``inducing_points`` is a count) and
                the random restarts. Without one, both are deterministic.
            num_restarts: number of L-BFGS starts (the first is the values given to ``SGPR``);
                the later ones move every log-stored hyperparameter by up to 2 on the log scale
                and keep the inducing inputs and mean weights where they start. The default is 1,
                where ``GPR`` and ``GPC`` use 3, on purpose: SGPR is the model for large n, and
                each start is a whole fit, O(n m^2) an evaluation, that also learns the m x d
                inducing inputs. Pass ``num_restarts=3`` to search as GPR does.
            max_iterations: L-BFGS iterations per start.
            tol: stop when every gradient entry of the per-point bound is below ``tol``
                (default 1e-6 in float64, 1e-3 in float32, as for ``GPR``).
            log_prior_fn: optional ``f(view) -> log prior`` of the constrained hyperparameters
                (``view.kernel``, ``view.mean``, ``view.noise``, ``view.inducing_points``), as in
                ``GPR.fit``; the fit then maximises bound + log prior (a MAP estimate).
            fixed: values to keep as given, as dotted paths (``"inducing_points"``, ``"noise"``,
                ``"kernel.lengthscale"``).

        Returns:
            A fitted SGPR; ``elbo()`` is the bound reached (without the prior) and ``fit_info``
            how the search went (its ``objective`` includes the log prior when one was given).

        Raises:
            NotPositiveDefiniteError: when no start gives a factorisable K_mm.
            ValueError: an option out of range, a `fixed` path that is not a hyperparameter, or a
                `log_prior_fn` that does not return a real scalar (or is not finite at the start).
        """
        key = None if key is None else check_key(key, "SGPR.fit")
        k_select, k_restart = (None, None) if key is None else jax.random.split(key)
        X, y, loc, scale, start = self._prepare("SGPR.fit", X, y, k_select, log_prior_fn=log_prior_fn)
        warn_constant_targets("SGPR.fit", y)
        options = dict(
            key=k_restart, num_restarts=num_restarts, max_iterations=max_iterations, tol=tol, fixed=fixed
        )
        options = check_fit_options("SGPR.fit", start, **options)
        check_log_prior("SGPR.fit", log_prior_fn, _as_view(start))
        ys = (y - loc) / scale
        # The final conditioning has the start's structure and shapes: it compiles while L-BFGS runs.
        conditioning = BackgroundCompile(_condition.lower(start, X, ys))
        hyper, info = maximize(_objective, start, (X, ys), owner="SGPR.fit", **options)
        if not np.isfinite(info.objective):
            if (error := nonfinite_prior_error("SGPR.fit", log_prior_fn, _as_view(start))) is not None:
                raise error
            raise NotPositiveDefiniteError(
                "SGPR.fit: the bound could not be evaluated from any start (K_mm not factorisable even "
                "with jitter). Standardise the inputs and targets, raise the starting `noise`, or use "
                "float64 (jax_enable_x64)."
            )
        return self._conditioned(hyper, X, y, loc, scale, info, conditioning.result()[0])

    def condition(self, X, y) -> SGPR:
        """Compute the optimal q(u) for ``(X, y)`` with hyperparameters and Z as they are (no optimisation).

        With ``standardize=True`` a fitted SGPR keeps the location and scale of its training data.
        """
        X, y, loc, scale, hyper = self._prepare("SGPR.condition", X, y, None, keep_scaling=True)
        return self._conditioned(hyper, X, y, loc, scale, None)

    def _conditioned(self, hyper, X, y, loc, scale, info, condition=_condition) -> SGPR:
        bound, L, L_B, c, jitter = condition(hyper, X, (y - loc) / scale)
        if not bool(jnp.isfinite(bound)):
            raise NotPositiveDefiniteError(
                f"SGPR: the bound is not finite; K_mm could not be factorised even with the largest "
                f"jitter (kernel={hyper.kernel!r}, noise={float(hyper.noise):.3g}). Spread the inducing "
                f"points, standardise X, raise `noise`, or use float64."
            )
        bound = bound - y.shape[0] * jnp.log(scale)  # the bound on log p(y) in y's own units
        return SGPR(
            hyper.kernel,
            hyper.inducing_points,
            hyper.mean,
            jnp.exp(hyper.log_noise),
            self.standardize,
            _fitted=(X.shape[0], loc, scale, L, L_B, c, jitter, bound, info),
        )

    # -- using a fitted model ------------------------------------------------------------------
    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise ValueError(f"SGPR.{what}: this SGPR has not been fitted; call `gp = gp.fit(X, y)` first.")

    def _hyper(self) -> _Hyper:
        return _Hyper(self.kernel, self.mean, self.log_noise, self.inducing_points)

    def elbo(self, X=None, y=None) -> jax.Array:
        """The collapsed bound on log p(y | X): at the fit, or for the ``(X, y)`` given (same Z and hyperparameters)."""
        if X is None and y is None:
            self._require_fitted("elbo")
            return self.bound
        if X is None or y is None:
            raise ValueError("SGPR.elbo: give both `X` and `y`, or neither.")
        if self.inducing_points is None:
            raise ValueError("SGPR.elbo: the inducing points are not chosen yet; fit the model first.")
        return self.condition(X, y).bound

    def predict(self, X_new, full_cov: bool = False) -> GPPrediction:
        """Predict at ``X_new`` under the optimal q(u): mean, ``latent_var`` and ``predictive_var``.

        Args:
            X_new: inputs ``(s, d)``.
            full_cov: also return the ``(s, s)`` latent covariance.
        """
        self._require_fitted("predict")
        X_new = check_inputs("SGPR.predict", X_new, "X_new", self.inducing_points.shape[1])
        mean, latent_var, cov = _predict(
            self._hyper(), self.cholesky_mm, self.cholesky_b, self.projected_residual, X_new, full_cov
        )
        return GPPrediction.in_original_units(mean, latent_var, cov, self.noise, self.y_loc, self.y_scale)

    def sample(self, key: jax.Array, X_new, num_samples: int = 1, include_noise: bool = False) -> jax.Array:
        """Draw functions from the approximate posterior at ``X_new``: shape ``(num_samples, s)``.

        With ``include_noise`` the draws are of new observations y*, otherwise of f(x*).
        """
        key = check_key(key, "SGPR.sample")
        num_samples = check_int("SGPR.sample", "num_samples", num_samples)
        noise = self.noise * self.y_scale**2 if include_noise else None
        return self.predict(X_new, full_cov=True).sample(key, num_samples, noise_variance=noise)

    def __repr__(self) -> str:
        state = f"fitted, elbo={float(self.bound):.4f}" if self.is_fitted else "unfitted"
        return (
            f"SGPR({self.kernel!r}, num_inducing={self.num_inducing}, mean={self.mean!r}, "
            f"noise={float(self.noise):.4g}, {state})"
        )
