"""Binary Gaussian process classification by the Laplace approximation.

The latent function f ~ GP(m, k) passes through the logistic link, p(y = 1 | f) = sigma(f). The
posterior over f at the training inputs is replaced by a Gaussian at its mode, found by Newton's
method in the numerically stable form of Rasmussen & Williams (2006), Algorithm 3.1, which only
ever factorises the well-conditioned ``B = I + W^1/2 K W^1/2`` (eigenvalues >= 1, no jitter).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._background_compile import BackgroundCompile
from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit._stacklevel import user_stacklevel
from bayeskit.gp._data import check_inputs, check_labels, check_training_data
from bayeskit.gp._fit import FitInfo, check_fit_options, check_log_prior, maximize, nonfinite_prior_error
from bayeskit.gp._laplace_logistic import expected_sigmoid, laplace_at_mode, laplace_evidence
from bayeskit.gp._precise import matmul
from bayeskit.gp.kernels._base import Kernel
from bayeskit.gp.means import MeanFunction, ZeroMean
from bayeskit.gp.prediction import GPPrediction

__all__ = ["GPC"]


class _Hyper(eqx.Module):
    """The learned part of a GPC (``kernel``, ``mean``); Newton settings and prior are static."""

    kernel: Kernel
    mean: MeanFunction
    max_newton_iterations: int = eqx.field(static=True)
    newton_tol: float | None = eqx.field(static=True)
    # A static field, so the compiled objective is shared by fits with the same prior function.
    log_prior_fn: Callable | None = eqx.field(static=True, default=None)


def _objective(hyper: _Hyper, X, y):
    """What ``fit`` maximises: the Laplace evidence, plus the log prior when one was given."""
    K = hyper.kernel._matrix(X, X, True)
    value = laplace_evidence(K, hyper.mean(X), y, hyper.max_newton_iterations, hyper.newton_tol)
    if hyper.log_prior_fn is not None:
        value = value + hyper.log_prior_fn(hyper)
    return value


@eqx.filter_jit
def _condition(hyper: _Hyper, X, y):
    K = hyper.kernel._matrix(X, X, True)
    m = hyper.mean(X)
    value, (_, f, pi, sqrt_w, L, num_iterations, converged) = laplace_at_mode(
        K, m, y, hyper.max_newton_iterations, hyper.newton_tol
    )
    return f, y - pi, sqrt_w, L, value, num_iterations, converged


@eqx.filter_jit
def _predict(hyper: _Hyper, X, grad, sqrt_w, L, X_new, full_cov: bool):
    """R&W Algorithm 3.2: mean m* + k*^T grad log p(y|f), variance k** - v^T v, v = L \\ W^1/2 k*."""
    K_star = hyper.kernel._matrix(X, X_new, False)  # (n, m)
    mean = hyper.mean(X_new) + matmul(K_star.T, grad)
    V = jax.scipy.linalg.solve_triangular(L, sqrt_w[:, None] * K_star, lower=True)
    if full_cov:
        cov = hyper.kernel._matrix(X_new, X_new, True) - matmul(V.T, V)
        return mean, jnp.maximum(jnp.diagonal(cov), 0.0), cov
    return mean, jnp.maximum(hyper.kernel._diag(X_new) - jnp.sum(V * V, axis=0), 0.0), None


class GPC(eqx.Module):
    r"""Binary GP classification with a logistic link, by the Laplace approximation.

    The model is f ~ GP(m, k) and p(y_i = 1 | f) = sigma(f(x_i)). The posterior of f at the
    training inputs is approximated by N(f_hat, (K^{-1} + W)^{-1}) at its mode f_hat, with
    W = diag(pi (1 - pi)) (Rasmussen & Williams 2006, §3.4). ``fit`` learns the kernel and mean
    parameters by maximising the approximate log marginal likelihood

    .. math:: \log q(y \mid X) = -\tfrac12 (\hat f - m)^\top K^{-1} (\hat f - m)
              + \log p(y \mid \hat f) - \tfrac12 \log |I + W^{1/2} K W^{1/2}|

    with L-BFGS from several starts (or the posterior mode, given a log prior). The Newton loop
    is not differentiated: the gradient is exact by implicit differentiation at the mode (R&W
    Algorithm 5.1), so it includes how the mode moves with the hyperparameters, at the cost of
    one inverse of B. Predictions are Gaussian in f (:meth:`predict`); class probabilities
    average the sigmoid over them (:meth:`predict_proba`).

    Args:
        kernel: the covariance function of the latent f.
        mean: the prior mean function of f (default zero: p = 1/2 far from the data).
        max_newton_iterations: cap on Newton iterations for the mode.
        newton_tol: stop when a Newton step moves f by less than ``newton_tol * (1 + max|f - m|)``;
            default sqrt(machine epsilon) of the data's dtype (the next step would be at rounding).

    Attributes (once fitted):
        mode: the posterior mode f_hat of the latent at the training inputs.
        grad_log_likelihood: ``y - sigma(f_hat)``, which gives the predictive mean.
        log_marginal: the Laplace evidence; ``newton_iterations``: Newton steps to the mode.

    Example:
        >>> gpc = GPC(RBF(lengthscale=1.0, variance=4.0)).fit(X, y)  # y in {0, 1}
        >>> gpc.predict_proba(X_new)  # P(y* = 1)
        >>> gpc.predict(X_new).latent_sd  # doctest: +SKIP
    """

    kernel: Kernel
    mean: MeanFunction
    max_newton_iterations: int = eqx.field(static=True)
    newton_tol: float | None = eqx.field(static=True)
    X: jax.Array | None
    y: jax.Array | None
    mode: jax.Array | None
    grad_log_likelihood: jax.Array | None
    sqrt_w: jax.Array | None
    cholesky: jax.Array | None
    log_marginal: jax.Array | None
    newton_iterations: int | None = eqx.field(static=True)
    fit_info: FitInfo | None = eqx.field(static=True)

    def __init__(
        self,
        kernel: Kernel,
        mean: MeanFunction | None = None,
        *,
        max_newton_iterations: int = 100,
        newton_tol: float | None = None,
        _fitted: tuple | None = None,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(
                f"GPC: `kernel` must be a bayeskit.gp.kernels.Kernel, got {type(kernel).__name__}."
            )
        mean = ZeroMean() if mean is None else mean
        if not isinstance(mean, MeanFunction):
            raise TypeError(f"GPC: `mean` must be a bayeskit.gp.MeanFunction, got {type(mean).__name__}.")
        n_max = max_newton_iterations
        if isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < 1:
            raise ValueError(f"GPC: `max_newton_iterations` must be an integer >= 1, got {n_max!r}.")
        if newton_tol is not None and not (isinstance(newton_tol, int | float) and newton_tol > 0):
            raise ValueError(f"GPC: `newton_tol` must be a positive number or None, got {newton_tol!r}.")
        self.kernel = kernel
        self.mean = mean
        self.max_newton_iterations = n_max
        self.newton_tol = None if newton_tol is None else float(newton_tol)
        X, y, f, grad, sqrt_w, L, value, iters, info = _fitted or (None,) * 9
        self.X, self.y, self.mode, self.grad_log_likelihood = X, y, f, grad
        self.sqrt_w, self.cholesky, self.log_marginal = sqrt_w, L, value
        self.newton_iterations = iters
        self.fit_info = info

    @property
    def is_fitted(self) -> bool:
        return self.X is not None

    def _hyper(self) -> _Hyper:
        return _Hyper(self.kernel, self.mean, self.max_newton_iterations, self.newton_tol)

    def _prepare(self, owner: str, X, y):
        X, y = check_training_data(owner, X, y)
        check_labels(owner, y)
        if self.kernel.num_features is not None and self.kernel.num_features != X.shape[1]:
            self.kernel._check(X, "X")  # raises, naming the mismatch
        return X, y

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
    ) -> GPC:
        """Learn hyperparameters by maximising the Laplace evidence, then condition on the data.

        Args:
            X: inputs ``(n, d)`` (a 1-D array is one column).
            y: class labels ``(n,)`` in {0, 1} (or booleans).
            key: random restarts when given; without one, restarts follow a fixed Halton design
                around the starting values, so a fit is reproducible.
            num_restarts: number of L-BFGS starts (the first is the values given to ``GPC``);
                3 by default, as for ``GPR``. ``SGPR`` defaults to 1 because one of its starts
                costs a whole large-n fit.
            max_iterations: L-BFGS iterations per start.
            tol: stop when every gradient entry of the per-point objective is below ``tol``
                (default 1e-6 in float64, 1e-3 in float32, as for ``GPR``).
            log_prior_fn: optional ``f(view) -> log prior`` of the constrained hyperparameters
                (``view.kernel``, ``view.mean``); the fit is then a MAP estimate. Useful when the
                classes are separable, where the evidence favours a very large kernel variance.
            fixed: hyperparameters to keep at their given value, as dotted paths
                (``"kernel.variance"``, ``"mean.constant"``).

        Returns:
            A fitted GPC; ``fit_info`` says how the optimisation went.

        Raises:
            ValueError: ``y`` holds values other than 0 and 1, or ``X`` and ``y`` do not match.
        """
        X, y = self._prepare("GPC.fit", X, y)
        start = _Hyper(self.kernel, self.mean, self.max_newton_iterations, self.newton_tol, log_prior_fn)
        options = dict(
            key=key, num_restarts=num_restarts, max_iterations=max_iterations, tol=tol, fixed=fixed
        )
        options = check_fit_options("GPC.fit", start, **options)
        check_log_prior("GPC.fit", log_prior_fn, start)
        # The final conditioning has the start's structure and shapes: it compiles while L-BFGS runs.
        conditioning = BackgroundCompile(_condition.lower(start, X, y))
        hyper, info = maximize(_objective, start, (X, y), owner="GPC.fit", **options)
        if not np.isfinite(info.objective):
            if (error := nonfinite_prior_error("GPC.fit", log_prior_fn, start)) is not None:
                raise error
            raise FloatingPointError(
                "GPC.fit: the Laplace evidence is not finite from any start. Standardise the "
                "inputs, start from a smaller kernel variance, or use float64 (jax_enable_x64)."
            )
        return self._conditioned(hyper, X, y, info, conditioning.result()[0])

    def condition(self, X, y) -> GPC:
        """Find the Laplace approximation for ``(X, y)`` with the hyperparameters as they are."""
        X, y = self._prepare("GPC.condition", X, y)
        return self._conditioned(self._hyper(), X, y, None)

    def _conditioned(self, hyper: _Hyper, X, y, info, condition=_condition) -> GPC:
        f, grad, sqrt_w, L, value, iters, converged = condition(hyper, X, y)
        if not bool(jnp.isfinite(value)):
            raise FloatingPointError(
                f"GPC: the Laplace approximation failed (non-finite evidence) for kernel="
                f"{hyper.kernel!r}. Check the inputs for extreme values or use float64."
            )
        if not bool(converged):
            warnings.warn(
                f"GPC: Newton's method did not reach the mode in {int(iters)} iterations; raise "
                "`max_newton_iterations` or `newton_tol`, or start from a smaller kernel variance.",
                RuntimeWarning,
                stacklevel=user_stacklevel(),
            )
        return GPC(
            hyper.kernel,
            hyper.mean,
            max_newton_iterations=self.max_newton_iterations,
            newton_tol=self.newton_tol,
            _fitted=(X, y, f, grad, sqrt_w, L, value, int(iters), info),
        )

    # -- using a fitted model ------------------------------------------------------------------
    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise ValueError(f"GPC.{what}: this GPC has not been fitted; call `gpc = gpc.fit(X, y)` first.")

    def log_marginal_likelihood(self) -> jax.Array:
        """The Laplace approximation to log p(y | X, hyperparameters) of the training data."""
        self._require_fitted("log_marginal_likelihood")
        return self.log_marginal

    def predict(self, X_new, full_cov: bool = False) -> GPPrediction:
        """The Gaussian approximation to the latent f(x*) given the data (R&W Algorithm 3.2).

        ``predictive_var`` equals ``latent_var``: there is no additive noise on the latent
        scale; the randomness of y* given f* is the Bernoulli, see :meth:`predict_proba`.

        Args:
            X_new: inputs ``(m, d)``.
            full_cov: also return the ``(m, m)`` latent covariance.
        """
        self._require_fitted("predict")
        X_new = check_inputs("GPC.predict", X_new, "X_new", self.X.shape[1])
        mean, var, cov = _predict(
            self._hyper(), self.X, self.grad_log_likelihood, self.sqrt_w, self.cholesky, X_new, full_cov
        )
        return GPPrediction(mean=mean, latent_var=var, predictive_var=var, latent_cov=cov)

    def sample(self, key: jax.Array, X_new, num_samples: int = 1) -> jax.Array:
        """Draw latent functions f from the Laplace posterior at ``X_new``: ``(num_samples, m)``.

        ``jax.nn.sigmoid(draws)`` are draws of the class-1 probability.
        """
        key = check_key(key, "GPC.sample")
        num_samples = check_int("GPC.sample", "num_samples", num_samples)
        return self.predict(X_new, full_cov=True).sample(key, num_samples)

    def predict_proba(self, X_new) -> jax.Array:
        r"""P(y* = 1 | data) = E[sigma(f*)] under the latent prediction, shape ``(m,)``.

        The average over the Gaussian is computed by quadrature to about 1e-9, not by plugging in
        the mean (which is overconfident where the latent variance is large): Gauss–Hermite for a
        latent sd up to 1.5; beyond, Phi(mean / sd) plus a Gauss–Laguerre correction (see
        ``bayeskit.gp._laplace_logistic.expected_sigmoid``). MacKay's probit approximation would
        be off by up to about 0.02.
        """
        pred = self.predict(X_new)
        return expected_sigmoid(pred.mean, pred.latent_var)

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "unfitted"
        extra = f", log_marginal={float(self.log_marginal):.4f}" if self.is_fitted else ""
        return f"GPC({self.kernel!r}, mean={self.mean!r}, {state}{extra})"
