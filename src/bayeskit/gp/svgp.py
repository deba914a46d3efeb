"""Stochastic variational GPs (SVGP): minibatch VI with inducing points, for regression and classification."""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.scipy.linalg import solve_triangular

from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit._stacklevel import user_stacklevel
from bayeskit.gp._data import check_inputs, check_labels, check_training_data
from bayeskit.gp._precise import dot, matmul
from bayeskit.gp._sparse_inducing import (
    check_inducing_columns,
    check_inducing_points,
    inducing_cholesky,
    select_inducing,
)
from bayeskit.gp._sparse_likelihoods import (
    bernoulli_proba,
    check_likelihood,
    expected_log_likelihood,
)
from bayeskit.gp._sparse_training import StochasticFitInfo, recent_mean, stochastic_ascent
from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive
from bayeskit.gp.means import MeanFunction, ZeroMean
from bayeskit.gp.prediction import GPPrediction

__all__ = ["SVGP"]


class _Params(eqx.Module):
    """Everything SVGP learns: kernel, mean, noise, inducing inputs and q = N(q_mean, L_s L_s^T)."""

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    inducing_points: jax.Array
    q_mean: jax.Array
    q_offdiag: jax.Array  # only the strictly lower triangle is used
    log_q_diag: jax.Array
    likelihood: str = eqx.field(static=True)
    whiten: bool = eqx.field(static=True)

    @property
    def noise(self):
        return exp_positive(self.log_noise)

    @property
    def q_scale_tril(self):
        return jnp.tril(self.q_offdiag, -1) + jnp.diag(jnp.exp(self.log_q_diag))


def _marginals(p: _Params, X, L):
    """q(f(x)) at the rows of X: mean, variance, and the projections the full covariance needs.

    Whitened (u = L v, q(v) = N(mu, S)): f = K_nm L^{-T} v, so with A = L^{-1} K_mn the mean is
    m(X) + A^T mu and the variance k(x, x) - |A_x|^2 + |L_s^T A_x|^2. Unwhitened, A becomes
    W = K_mm^{-1} K_mn in the last two places.
    """
    Z = p.inducing_points
    A = solve_triangular(L, p.kernel._matrix(Z, X, False), lower=True)
    W = A if p.whiten else solve_triangular(L.T, A, lower=False)
    V = matmul(p.q_scale_tril.T, W)
    mean = p.mean(X) + matmul(W.T, p.q_mean)
    var = jnp.maximum(p.kernel._diag(X) - jnp.sum(A * A, axis=0), 0.0) + jnp.sum(V * V, axis=0)
    return mean, var, A, V


def _kl(p: _Params, L):
    """KL(q(v) || N(0, I)) whitened, KL(q(u) || N(0, K_mm)) otherwise, in closed form."""
    Ls = p.q_scale_tril
    m = p.q_mean.shape[0]
    if p.whiten:
        trace, maha, log_det_ratio = jnp.sum(Ls * Ls), dot(p.q_mean, p.q_mean), 0.0
    else:
        M = solve_triangular(L, Ls, lower=True)
        v = solve_triangular(L, p.q_mean, lower=True)
        trace, maha = jnp.sum(M * M), dot(v, v)
        log_det_ratio = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L)))
    return 0.5 * (trace + maha - m + log_det_ratio - 2.0 * jnp.sum(p.log_q_diag))


def _elbo_estimate(p: _Params, X, y, num_data):
    """(num_data / batch) * sum over the batch of E_q[log p(y_i | f_i)] - KL: unbiased for the ELBO."""
    L, _ = inducing_cholesky(p.kernel, p.inducing_points)
    mean, var, _, _ = _marginals(p, X, L)
    ell = expected_log_likelihood(p.likelihood, y, mean, var, p.noise)
    return num_data / X.shape[0] * jnp.sum(ell) - _kl(p, L)


_elbo = eqx.filter_jit(_elbo_estimate)


@eqx.filter_jit
def _predict(p: _Params, X_new, full_cov: bool):
    L, _ = inducing_cholesky(p.kernel, p.inducing_points)
    mean, var, A, V = _marginals(p, X_new, L)
    cov = p.kernel._matrix(X_new, X_new, True) - matmul(A.T, A) + matmul(V.T, V) if full_cov else None
    return mean, var, cov


def _is_key(value) -> bool:
    try:
        check_key(value, "")
    except TypeError:
        return False
    return True


def _from_old_order(owner: str, X, y, extra: tuple, key):
    """``(X, y, key)`` from a call in the former order ``fit(key, X, y)``, with a warning; any other
    call with more than two positional arguments is a TypeError that shows the new form."""
    if len(extra) == 1 and key is None and _is_key(X):
        warnings.warn(
            f"{owner}(key, X, y, ...) is deprecated and stops working in the next release; call "
            f"{owner}(X, y, key=key, ...), the order GPR.fit, SGPR.fit and GPC.fit take.",
            DeprecationWarning,
            stacklevel=user_stacklevel(),
        )
        return y, extra[0], X
    if len(extra) == 1 and _is_key(X):
        problem = "a key first and also `key=`"
    else:
        problem = f"{2 + len(extra)} positional arguments"
    raise TypeError(
        f"{owner}: takes X and y as its only positional arguments and everything else by keyword, "
        f"as in `{owner}(X, y, key=jax.random.key(0), batch_size=256, num_steps=2000)`; got {problem}."
    )


class SVGP(eqx.Module):
    r"""Stochastic variational GP (Hensman et al.): minibatch VI with m inducing points, O(b m^2 + m^3) a step.

    The latent function is summarised by u = f(Z) at m learned inducing inputs Z, with a free
    Gaussian q(u); whitened (the default), u = L v with K_mm = L L^T and q(v) = N(mu, L_s L_s^T),
    L_s lower triangular with a positive diagonal. ``fit`` maximises by stochastic gradient ascent
    (Adam by default) the evidence lower bound

    .. math:: \mathcal{L} = \sum_{i=1}^n \mathbb{E}_{q(f_i)}[\log p(y_i \mid f_i)]
              - \mathrm{KL}(q(v) \,\|\, \mathcal N(0, I)),

    over q, the kernel's hyperparameters, the mean, ``noise`` and Z, estimating the sum from a
    minibatch of b points (scaled by n / b). The KL term is closed form
    (:math:`\tfrac12(\operatorname{tr} S + \mu^\top\mu - m - \log|S|)` whitened). q(f_i) is
    Gaussian with mean :math:`m(x_i) + a_i^\top\mu` and variance
    :math:`k_{ii} - a_i^\top a_i + a_i^\top S a_i`, :math:`a_i = L^{-1} k_m(x_i)`, so the expected
    log likelihood is closed form for ``likelihood="gaussian"``; for ``"bernoulli"`` (probit
    link, p(y = 1 | f) = Phi(f): GP classification) it uses 40-point Gauss-Hermite quadrature and
    class probabilities are :math:`\Phi(\mu_* / \sqrt{1 + v_*})`.

    References: J. Hensman, N. Fusi, N. Lawrence, "Gaussian processes for big data", UAI 2013;
    J. Hensman, A. Matthews, Z. Ghahramani, "Scalable variational Gaussian process
    classification", AISTATS 2015.

    Args:
        kernel: the covariance function.
        inducing_points: initial inducing inputs Z ``(m, d)`` (see :func:`select_inducing`), or an
            integer m: ``fit`` then chooses m rows of X by k-means++ seeding with its key.
        likelihood: ``"gaussian"`` (regression) or ``"bernoulli"`` (binary labels 0/1).
        mean: the prior mean function of the latent f (default zero).
        noise: the Gaussian observation noise *variance* (ignored for ``"bernoulli"``). For
            regression standardise y first (or use ``ConstantMean``): q starts at the zero-mean prior.
        whiten: parameterise q through v = L^{-1} u (better-conditioned gradients; recommended).

    Example:
        >>> clf = SVGP(RBF(), inducing_points=32, likelihood="bernoulli")
        >>> clf = clf.fit(X, labels, key=jax.random.key(0), batch_size=128, num_steps=2000)
        >>> clf.predict_proba(X_test), clf.fit_info.objective  # doctest: +SKIP
    """

    kernel: Kernel
    mean: MeanFunction
    log_noise: jax.Array
    inducing_points: jax.Array | None
    q_mean: jax.Array
    q_offdiag: jax.Array
    log_q_diag: jax.Array
    num_inducing: int = eqx.field(static=True)
    likelihood: str = eqx.field(static=True)
    whiten: bool = eqx.field(static=True)
    num_data: int | None = eqx.field(static=True)
    elbo_history: jax.Array | None
    fit_info: StochasticFitInfo | None = eqx.field(static=True)

    def __init__(
        self,
        kernel: Kernel,
        inducing_points,
        likelihood: str = "gaussian",
        mean: MeanFunction | None = None,
        noise=1e-2,
        whiten: bool = True,
        *,
        _variational: tuple | None = None,
        _fitted: tuple | None = None,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(
                f"SVGP: `kernel` must be a bayeskit.gp.kernels.Kernel, got {type(kernel).__name__}."
            )
        mean = ZeroMean() if mean is None else mean
        if not isinstance(mean, MeanFunction):
            raise TypeError(f"SVGP: `mean` must be a bayeskit.gp.MeanFunction, got {type(mean).__name__}.")
        self.kernel, self.mean = kernel, mean
        self.likelihood = check_likelihood("SVGP", likelihood)
        self.inducing_points, self.num_inducing = check_inducing_points("SVGP", inducing_points, kernel)
        self.log_noise = log_positive("SVGP", "noise", noise)
        if self.log_noise.ndim != 0:
            raise ValueError("SVGP: `noise` must be a scalar variance.")
        self.whiten = bool(whiten)
        if _variational is None:  # q = N(0, I) over v: the prior when whitened
            m = self.num_inducing
            dtype = jnp.result_type(float) if self.inducing_points is None else self.inducing_points.dtype
            _variational = (jnp.zeros(m, dtype), jnp.zeros((m, m), dtype), jnp.zeros(m, dtype))
        self.q_mean, self.q_offdiag, self.log_q_diag = _variational
        self.num_data, self.elbo_history, self.fit_info = _fitted or (None, None, None)

    # -- state ---------------------------------------------------------------------------------
    @property
    def noise(self) -> jax.Array:
        """The Gaussian observation noise variance."""
        return exp_positive(self.log_noise)

    @property
    def q_scale_tril(self) -> jax.Array:
        """L_s: the lower-triangular scale of q(v) (whitened) or q(u), with S = L_s L_s^T."""
        return jnp.tril(self.q_offdiag, -1) + jnp.diag(jnp.exp(self.log_q_diag))

    @property
    def is_fitted(self) -> bool:
        return self.elbo_history is not None

    def _params(self, Z=None) -> _Params:
        Z = self.inducing_points if Z is None else Z
        return _Params(
            self.kernel,
            self.mean,
            self.log_noise,
            Z,
            self.q_mean,
            self.q_offdiag,
            self.log_q_diag,
            self.likelihood,
            self.whiten,
        )

    def _initial_params(self, owner: str, X, key) -> _Params:
        Z = self.inducing_points
        if Z is None:
            if self.num_inducing > X.shape[0]:
                raise ValueError(
                    f"{owner}: `inducing_points` asks for {self.num_inducing} points but `X` has only "
                    f"{X.shape[0]} rows; use at most n inducing points."
                )
            Z = select_inducing(key, X, self.num_inducing)
        check_inducing_columns(owner, Z, X)
        p = jax.tree.map(lambda a: a.astype(X.dtype) if eqx.is_inexact_array(a) else a, self._params(Z))
        if not self.whiten and not self.is_fitted:  # start q(u) at the prior N(0, K_mm)
            L, _ = inducing_cholesky(p.kernel, p.inducing_points)
            p = eqx.tree_at(lambda p: (p.q_offdiag, p.log_q_diag), p, (L, jnp.log(jnp.diagonal(L))))
        return p

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        *_old_order,
        key: jax.Array | None = None,
        batch_size: int = 256,
        num_steps: int = 2000,
        learning_rate: float | None = None,
        optimizer: optax.GradientTransformation | None = None,
        fixed: tuple[str, ...] = (),
        progress_bar: bool = False,
    ) -> SVGP:
        """Maximise the ELBO by minibatch stochastic gradients; return the fitted SVGP.

        A fitted SVGP fits again from where it stopped (a fresh optimiser state). Steps run in
        compiled chunks of up to 250; Ctrl-C between chunks keeps what was learned so far.

        The call is ``fit(X, y, key=...)``, as for ``GPR``, ``SGPR`` and ``GPC``. The former order
        ``fit(key, X, y)`` still works in this release, with a ``DeprecationWarning``.

        Args:
            X: inputs ``(n, d)``.
            y: targets ``(n,)``; labels 0/1 for ``likelihood="bernoulli"``.
            key: PRNG key for the minibatches and, when ``inducing_points`` is a count, for
                choosing Z (k-means++). Required when ``batch_size < n``: minibatches are random.
                Without one (``batch_size >= n``) every step uses all the data and Z is chosen by
                farthest-point traversal, so the fit is deterministic. Step t's batch uses
                ``fold_in(key, t)``: the result does not depend on chunking.
            batch_size: points per step, drawn uniformly with replacement; ``batch_size >= n``
                uses all the data every step (deterministic full-batch gradients).
            num_steps: optimiser steps.
            learning_rate: Adam's step size (default 0.01); only without ``optimizer``.
            optimizer: any optax transformation that minimises (default Adam).
            fixed: values to keep as given, as dotted paths (``"inducing_points"``, ``"noise"``,
                ``"kernel.lengthscale"``, ``"q_mean"``).
            progress_bar: show a rich progress bar with the running ELBO estimate.

        Returns:
            A fitted SVGP whose ``elbo_history`` holds each step's minibatch ELBO estimate and
            whose ``fit_info`` (a ``StochasticFitInfo``) gives the steps run, the final ELBO
            estimate and whether Ctrl-C cut the fit short.

        Raises:
            ValueError: no ``key`` while ``batch_size < n``, or an option out of range.
            TypeError: more than two positional arguments other than the former
                ``fit(key, X, y)`` order.
            FloatingPointError: when the ELBO becomes NaN or infinite (lower ``learning_rate``).
        """
        owner = "SVGP.fit"
        if _old_order:
            X, y, key = _from_old_order(owner, X, y, _old_order, key)
        key = None if key is None else check_key(key, owner)
        X, y = check_training_data(owner, X, y)
        if self.kernel.num_features is not None and self.kernel.num_features != X.shape[1]:
            self.kernel._check(X, "X")  # raises, naming the mismatch
        if self.likelihood == "bernoulli":
            check_labels(owner, y)
        batch_size = check_int(owner, "batch_size", batch_size)
        if key is None and batch_size < X.shape[0]:
            raise ValueError(
                f"{owner}: `key` is required when `batch_size` ({batch_size}) is below the number of "
                f"points ({X.shape[0]}), because the minibatches are random; pass "
                "`key=jax.random.key(seed)`, or `batch_size >= n` for deterministic full-batch steps."
            )
        k_select, k_steps = (None, None) if key is None else jax.random.split(key)
        params = self._initial_params(owner, X, k_select)
        fixed = (fixed,) if isinstance(fixed, str) else tuple(fixed)
        if self.likelihood == "bernoulli":
            fixed += ("noise",)  # unused by the likelihood
        p, history, info = stochastic_ascent(
            _elbo_estimate,
            params,
            X,
            y,
            key=k_steps,
            owner=owner,
            batch_size=batch_size,
            num_steps=num_steps,
            learning_rate=learning_rate,
            optimizer=optimizer,
            fixed=fixed,
            progress_bar=progress_bar,
        )
        return SVGP(
            p.kernel,
            p.inducing_points,
            self.likelihood,
            p.mean,
            jnp.exp(p.log_noise),
            self.whiten,
            _variational=(p.q_mean, p.q_offdiag, p.log_q_diag),
            _fitted=(X.shape[0], jnp.asarray(history), info),
        )

    # -- using a fitted model ------------------------------------------------------------------
    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise ValueError(
                f"SVGP.{what}: this SVGP has not been fitted; call `gp = gp.fit(X, y, key=key)` first."
            )

    def elbo(self, X, y) -> jax.Array:
        """The ELBO on the full data ``(X, y)`` at the current q, hyperparameters and Z (no sampling)."""
        if self.inducing_points is None:
            raise ValueError("SVGP.elbo: the inducing points are not chosen yet; fit the model first.")
        X, y = check_training_data("SVGP.elbo", X, y)
        check_inducing_columns("SVGP.elbo", self.inducing_points, X)
        if self.likelihood == "bernoulli":
            check_labels("SVGP.elbo", y, both_classes=False)  # a minibatch may hold one class
        return _elbo(self._params(), X, y, X.shape[0])

    def predict(self, X_new, full_cov: bool = False) -> GPPrediction:
        """The approximate posterior of f at ``X_new`` (and of y, noise included, for ``"gaussian"``).

        For ``likelihood="bernoulli"`` this describes the latent f (``predictive_var`` equals
        ``latent_var``); class probabilities come from :meth:`predict_proba`.
        """
        self._require_fitted("predict")
        X_new = check_inputs("SVGP.predict", X_new, "X_new", self.inducing_points.shape[1])
        mean, latent_var, cov = _predict(self._params(), X_new, full_cov)
        noise = self.noise if self.likelihood == "gaussian" else 0.0
        return GPPrediction(
            mean=mean, latent_var=latent_var, predictive_var=latent_var + noise, latent_cov=cov
        )

    def sample(self, key: jax.Array, X_new, num_samples: int = 1, include_noise: bool = False) -> jax.Array:
        """Draw functions from q(f) at ``X_new``: shape ``(num_samples, m)``.

        With ``include_noise`` (``likelihood="gaussian"`` only) the draws are of new observations
        y*; for ``"bernoulli"``, ``Phi(draws)`` are draws of the class-1 probability.
        """
        key = check_key(key, "SVGP.sample")
        num_samples = check_int("SVGP.sample", "num_samples", num_samples)
        if include_noise and self.likelihood != "gaussian":
            raise ValueError("SVGP.sample: `include_noise` needs likelihood='gaussian'.")
        noise = self.noise if include_noise else None
        return self.predict(X_new, full_cov=True).sample(key, num_samples, noise_variance=noise)

    def predict_proba(self, X_new) -> jax.Array:
        """p(y* = 1 | data) = E_q[Phi(f*)] = Phi(mean / sqrt(1 + latent_var)), for ``"bernoulli"``."""
        if self.likelihood != "bernoulli":
            raise ValueError(
                f"SVGP.predict_proba: needs likelihood='bernoulli', this SVGP has {self.likelihood!r}."
            )
        pred = self.predict(X_new)
        return bernoulli_proba(pred.mean, pred.latent_var)

    def __repr__(self) -> str:
        state = "unfitted"
        if self.is_fitted and self.elbo_history.shape[0]:
            state = f"fitted, elbo~{recent_mean(self.elbo_history):.4f}"
        noise = f", noise={float(self.noise):.4g}" if self.likelihood == "gaussian" else ""
        return (
            f"SVGP({self.kernel!r}, num_inducing={self.num_inducing}, likelihood={self.likelihood!r}, "
            f"mean={self.mean!r}{noise}, {state})"
        )
