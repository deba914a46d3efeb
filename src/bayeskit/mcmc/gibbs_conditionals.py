r"""Ready-made Gibbs blocks for classic conjugate models.

Each function returns the ordered list of :class:`~bayeskit.mcmc.gibbs.GibbsBlock` that
:func:`~bayeskit.mcmc.gibbs.gibbs` turns into a kernel. The data are captured once; every
sampler is an exact draw from a full conditional with fixed shapes, so the sweep jits and vmaps
over chains.

Parameterisations: ``Normal(mean, sd)``; ``InverseGamma(a, b)`` has density
:math:`\propto x^{-a-1} e^{-b/x}` (mean :math:`b/(a-1)`); ``Dirichlet(alpha)``.

References:
    Gelman, Carlin, Stern, Dunson, Vehtari & Rubin (2013), *Bayesian Data Analysis*, 3rd ed.:
    sections 5.4 (hierarchical normal), 11.1 (Gibbs), 14.8 (semi-conjugate regression), 22.2
    (finite mixtures). Diebolt & Robert (1994), "Estimation of finite mixture distributions
    through Bayesian sampling".
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular

from bayeskit.dist import Categorical, Dirichlet, InverseGamma, Normal, constraints
from bayeskit.dist._distribution import is_concrete
from bayeskit.mcmc.gibbs import GibbsBlock

__all__ = ["gaussian_mixture_blocks", "hierarchical_normal_blocks", "linear_regression_blocks"]

_LOG_2PI = math.log(2.0 * math.pi)


def _float_array(where: str, name: str, x, ndims: tuple[int, ...]) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if x.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{where}: `{name}` must be {want}, got shape {tuple(x.shape)}.")
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{where}: `{name}` must be finite (no NaN or inf).")
    return x


def _positive(where: str, name: str, x, shape=()) -> jax.Array:
    x = _float_array(where, name, x, (0, 1))
    try:
        x = jnp.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(
            f"{where}: `{name}` must be a scalar or have shape {shape}, got {tuple(x.shape)}."
        ) from None
    if is_concrete(x) and not np.all(np.asarray(x) > 0):
        raise ValueError(f"{where}: `{name}` must be positive, got {np.asarray(x)}.")
    return x


def _pair(where: str, name: str, prior) -> tuple:
    if not isinstance(prior, (tuple, list)) or len(prior) != 2:
        raise ValueError(f"{where}: `{name}` must be a pair of numbers, got {prior!r}.")
    return tuple(prior)


def linear_regression_blocks(X, y, prior_mean, prior_precision, a0, b0) -> list[GibbsBlock]:
    r"""Gibbs blocks for linear regression with a semi-conjugate normal / inverse-gamma prior.

    Model, with the weights a priori independent of the noise variance:

    .. math::
        y \mid w, \sigma^2 \sim N(Xw, \sigma^2 I_n), \quad
        w \sim N(m_0, \Lambda_0^{-1}), \quad \sigma^2 \sim \mathrm{InvGamma}(a_0, b_0).

    Full conditionals (blocks ``"weights"`` then ``"sigma2"``):

    .. math::
        w \mid \sigma^2, y &\sim N(m_n, \Lambda_n^{-1}), \quad
            \Lambda_n = \Lambda_0 + X^\top X / \sigma^2, \quad
            m_n = \Lambda_n^{-1} (\Lambda_0 m_0 + X^\top y / \sigma^2), \\
        \sigma^2 \mid w, y &\sim \mathrm{InvGamma}\big(a_0 + n/2,\; b_0 + \lVert y - Xw \rVert^2 / 2\big).

    (Unlike :class:`bayeskit.conjugate.BayesianLinearRegression`, whose prior scales ``w`` with
    :math:`\sigma^2`, this posterior has no closed form; the conditionals do.)

    Args:
        X: design matrix ``(n, p)``.
        y: responses ``(n,)``.
        prior_mean: :math:`m_0`, a scalar or ``(p,)``.
        prior_precision: :math:`\Lambda_0`: a scalar (times the identity), a ``(p,)`` diagonal or
            a ``(p, p)`` positive definite matrix.
        a0, b0: positive shape and scale of the inverse-gamma prior on :math:`\sigma^2`.

    Returns:
        ``[GibbsBlock("weights", ...), GibbsBlock("sigma2", ...)]``; the state holds
        ``weights`` of shape ``(p,)`` and a scalar ``sigma2``, which must start positive (the
        kernel's ``init`` rejects another start, naming the block).

    Example:
        >>> kernel = gibbs(linear_regression_blocks(X, y, 0.0, 1.0, a0=2.0, b0=1.0))
        >>> state = kernel.init({"weights": jnp.zeros(X.shape[1]), "sigma2": 1.0})
    """
    where = "linear_regression_blocks"
    X = _float_array(where, "X", X, (2,))
    y = _float_array(where, "y", y, (1,))
    n, p = X.shape
    if y.shape[0] != n:
        raise ValueError(f"{where}: `X` has {n} rows but `y` has {y.shape[0]} entries; they must match.")
    m0 = _float_array(where, "prior_mean", prior_mean, (0, 1))
    if m0.ndim == 1 and m0.shape[0] != p:
        raise ValueError(f"{where}: `prior_mean` has length {m0.shape[0]}, but `X` has {p} columns.")
    m0 = jnp.broadcast_to(m0, (p,))
    L0 = _float_array(where, "prior_precision", prior_precision, (0, 1, 2))
    if L0.ndim == 2 and L0.shape != (p, p):
        raise ValueError(f"{where}: `prior_precision` must be ({p}, {p}), got {tuple(L0.shape)}.")
    if L0.ndim == 1 and L0.shape != (p,):
        raise ValueError(f"{where}: a diagonal `prior_precision` must have length {p}, got {L0.shape[0]}.")
    if L0.ndim < 2:
        if is_concrete(L0) and not np.all(np.asarray(L0) > 0):
            raise ValueError(f"{where}: `prior_precision` must be positive.")
        L0 = jnp.diag(jnp.broadcast_to(L0, (p,)))
    elif is_concrete(L0) and not (
        # eigvalsh reads one triangle: an asymmetric matrix passed, and the updates then used
        # its full form in one place and its lower triangle in another.
        np.allclose(np.asarray(L0), np.asarray(L0).T, rtol=1e-6, atol=0.0)
        and np.all(np.linalg.eigvalsh(np.asarray(L0)) > 0)
    ):
        raise ValueError(f"{where}: `prior_precision` must be a symmetric positive definite matrix.")
    a0 = _positive(where, "a0", a0)
    b0 = _positive(where, "b0", b0)

    XtX, Xty, prior_shift = X.T @ X, X.T @ y, L0 @ m0

    def draw_weights(key, state):
        sigma2 = state["sigma2"]
        chol = jnp.linalg.cholesky(L0 + XtX / sigma2)
        mean = cho_solve((chol, True), prior_shift + Xty / sigma2)
        noise = jax.random.normal(key, (p,), mean.dtype)
        # (L L^T)^{-1} = L^{-T} L^{-1}, so L^{-T} eps has the conditional covariance.
        return mean + solve_triangular(chol.T, noise, lower=False)

    def draw_sigma2(key, state):
        residual = y - X @ state["weights"]
        return InverseGamma(a0 + 0.5 * n, b0 + 0.5 * jnp.dot(residual, residual)).sample(key)

    return [
        GibbsBlock("weights", sampler=draw_weights),
        GibbsBlock("sigma2", sampler=draw_sigma2, support=constraints.positive),
    ]


def hierarchical_normal_blocks(y, sigma, mu_prior, tau_prior) -> list[GibbsBlock]:
    r"""Gibbs blocks for the normal hierarchical model with known sampling sd (eight schools).

    Model for groups :math:`j = 1, \dots, J`:

    .. math::
        y_j \mid \theta_j \sim N(\theta_j, \sigma_j^2), \quad
        \theta_j \mid \mu, \tau^2 \sim N(\mu, \tau^2), \quad
        \mu \sim N(m_0, s_0^2), \quad \tau^2 \sim \mathrm{InvGamma}(a, b).

    Full conditionals (blocks ``"theta"``, ``"mu"``, ``"tau2"``, in that order):

    .. math::
        \theta_j \mid \mu, \tau^2, y &\sim N\Big(
            \frac{y_j/\sigma_j^2 + \mu/\tau^2}{1/\sigma_j^2 + 1/\tau^2},\;
            \frac{1}{1/\sigma_j^2 + 1/\tau^2}\Big)
            \text{ independently}, \\
        \mu \mid \theta, \tau^2 &\sim N\Big(
            \frac{m_0/s_0^2 + \sum_j \theta_j/\tau^2}{1/s_0^2 + J/\tau^2},\;
            \frac{1}{1/s_0^2 + J/\tau^2}\Big), \\
        \tau^2 \mid \theta, \mu &\sim \mathrm{InvGamma}\Big(a + \frac J2,\;
            b + \frac12 \sum_j (\theta_j - \mu)^2\Big).

    This centred parameterisation mixes slowly when the posterior puts mass on small
    :math:`\tau` (the funnel); a prior with :math:`b > 0` keeps :math:`\tau^2` away from 0.

    Args:
        y: group estimates ``(J,)``.
        sigma: their known standard errors ``(J,)`` (or a scalar), positive.
        mu_prior: ``(m0, s0)``, mean and sd of the normal prior on :math:`\mu`.
        tau_prior: ``(a, b)``, shape and scale of the inverse-gamma prior on :math:`\tau^2`.

    Returns:
        The three blocks; the state holds ``theta`` ``(J,)`` and scalars ``mu`` and ``tau2``;
        ``tau2`` must start positive (the kernel's ``init`` rejects another start).

    Example:
        >>> d = bayeskit.datasets.eight_schools()
        >>> blocks = hierarchical_normal_blocks(d.y, d.extra["sigma"], mu_prior=(0.0, 5.0), tau_prior=(1.0, 1.0))
        >>> state = gibbs(blocks).init({"theta": jnp.zeros(8), "mu": 0.0, "tau2": 1.0})
    """
    where = "hierarchical_normal_blocks"
    y = _float_array(where, "y", y, (1,))
    (J,) = y.shape
    sigma = _positive(where, "sigma", sigma, (J,))
    m0, s0 = _pair(where, "mu_prior", mu_prior)
    m0 = _float_array(where, "mu_prior[0]", m0, (0,))
    s0 = _positive(where, "mu_prior[1]", s0)
    a, b = _pair(where, "tau_prior", tau_prior)
    a = _positive(where, "tau_prior[0]", a)
    b = _positive(where, "tau_prior[1]", b)
    data_precision = 1.0 / sigma**2

    def draw_theta(key, state):
        precision = data_precision + 1.0 / state["tau2"]
        mean = (y * data_precision + state["mu"] / state["tau2"]) / precision
        return Normal(mean, jax.lax.rsqrt(precision)).sample(key)

    def draw_mu(key, state):
        precision = 1.0 / s0**2 + J / state["tau2"]
        mean = (m0 / s0**2 + jnp.sum(state["theta"]) / state["tau2"]) / precision
        return Normal(mean, jax.lax.rsqrt(precision)).sample(key)

    def draw_tau2(key, state):
        spread = jnp.sum((state["theta"] - state["mu"]) ** 2)
        return InverseGamma(a + 0.5 * J, b + 0.5 * spread).sample(key)

    return [
        GibbsBlock("theta", sampler=draw_theta),
        GibbsBlock("mu", sampler=draw_mu),
        GibbsBlock("tau2", sampler=draw_tau2, support=constraints.positive),
    ]


def gaussian_mixture_blocks(
    y, num_components: int, means_prior, variances_prior, concentration=1.0
) -> list[GibbsBlock]:
    r"""Gibbs blocks for a 1-D Gaussian mixture with discrete component assignments.

    Model for observations :math:`i = 1, \dots, n` and components :math:`k = 1, \dots, K`:

    .. math::
        y_i \mid z_i, \mu, \sigma^2 \sim N(\mu_{z_i}, \sigma^2_{z_i}), \quad
        z_i \mid w \sim \mathrm{Categorical}(w), \quad w \sim \mathrm{Dirichlet}(\alpha), \\
        \mu_k \sim N(m_k, s_k^2), \quad \sigma^2_k \sim \mathrm{InvGamma}(a_k, b_k).

    With :math:`n_k = \#\{i : z_i = k\}`, full conditionals (blocks ``"z"``, ``"weights"``,
    ``"means"``, ``"variances"``, in that order):

    .. math::
        P(z_i = k \mid \cdot) &\propto w_k \, N(y_i \mid \mu_k, \sigma^2_k), \\
        w \mid z &\sim \mathrm{Dirichlet}(\alpha_1 + n_1, \dots, \alpha_K + n_K), \\
        \mu_k \mid z, \sigma^2, y &\sim N\Big(
            \frac{m_k/s_k^2 + \sum_{i: z_i = k} y_i / \sigma_k^2}{1/s_k^2 + n_k/\sigma_k^2},\;
            \frac{1}{1/s_k^2 + n_k/\sigma_k^2}\Big), \\
        \sigma^2_k \mid z, \mu, y &\sim \mathrm{InvGamma}\Big(a_k + \frac{n_k}{2},\;
            b_k + \frac12 \sum_{i: z_i = k} (y_i - \mu_k)^2\Big).

    This is how bayeskit samples discrete latent variables: exactly, from their conditionals.
    The likelihood is invariant to relabelling the components; priors on the means that
    separate the components (distinct :math:`m_k`, moderate :math:`s_k`) keep a chain on one
    labelling.

    Args:
        y: observations ``(n,)``.
        num_components: :math:`K`.
        means_prior: ``(m, s)``: prior means and sds of the component means (scalars or ``(K,)``).
        variances_prior: ``(a, b)``: inverse-gamma shape and scale for the component variances
            (scalars or ``(K,)``).
        concentration: Dirichlet :math:`\alpha` (a scalar or ``(K,)``), positive.

    Returns:
        The four blocks; the state holds ``z`` ``(n,)`` (int32 component indices), and
        ``weights``, ``means``, ``variances``, each ``(K,)``. ``z`` is drawn first, so its
        initial value is ignored; ``weights`` must start on the simplex and ``variances``
        positive (the kernel's ``init`` rejects another start, naming the block).

    Example:
        >>> K = 2
        >>> blocks = gaussian_mixture_blocks(y, K, means_prior=([-3.0, 3.0], 1.0), variances_prior=(2.0, 1.0))
        >>> state = gibbs(blocks).init({"z": jnp.zeros(y.shape[0], jnp.int32), "weights": jnp.full(K, 1 / K),
        ...                             "means": jnp.array([-3.0, 3.0]), "variances": jnp.ones(K)})
    """
    where = "gaussian_mixture_blocks"
    y = _float_array(where, "y", y, (1,))
    if (
        isinstance(num_components, bool)
        or not isinstance(num_components, (int, np.integer))
        or num_components < 1
    ):
        raise ValueError(f"{where}: `num_components` must be a positive integer, got {num_components!r}.")
    K = int(num_components)
    m, s = _pair(where, "means_prior", means_prior)
    m = _float_array(where, "means_prior[0]", m, (0, 1))
    if m.ndim == 1 and m.shape[0] != K:
        raise ValueError(f"{where}: `means_prior[0]` has length {m.shape[0]}, expected {K} (num_components).")
    m = jnp.broadcast_to(m, (K,))
    s = _positive(where, "means_prior[1]", s, (K,))
    a, b = _pair(where, "variances_prior", variances_prior)
    a = _positive(where, "variances_prior[0]", a, (K,))
    b = _positive(where, "variances_prior[1]", b, (K,))
    alpha = _positive(where, "concentration", concentration, (K,))

    def draw_z(key, state):
        variances = state["variances"]
        log_lik = -0.5 * (_LOG_2PI + jnp.log(variances) + (y[:, None] - state["means"]) ** 2 / variances)
        logits = jnp.log(state["weights"]) + log_lik
        return Categorical(logits=logits).sample(key).astype(jnp.int32)

    def counts(z):
        # z may be held as floats (a state started from a prior draw: bayeskit's Categorical
        # draws floats); one_hot of floats is deprecated in JAX.
        return jax.nn.one_hot(z.astype(jnp.int32), K, dtype=y.dtype)

    def draw_weights(key, state):
        return Dirichlet(alpha + jnp.sum(counts(state["z"]), axis=0)).sample(key)

    def draw_means(key, state):
        member = counts(state["z"])
        precision = 1.0 / s**2 + jnp.sum(member, axis=0) / state["variances"]
        mean = (m / s**2 + (y @ member) / state["variances"]) / precision
        return Normal(mean, jax.lax.rsqrt(precision)).sample(key)

    def draw_variances(key, state):
        member = counts(state["z"])
        spread = jnp.sum(member * (y[:, None] - state["means"]) ** 2, axis=0)
        return InverseGamma(a + 0.5 * jnp.sum(member, axis=0), b + 0.5 * spread).sample(key)

    return [
        GibbsBlock("z", sampler=draw_z),
        GibbsBlock("weights", sampler=draw_weights, support=constraints.simplex),
        GibbsBlock("means", sampler=draw_means),
        GibbsBlock("variances", sampler=draw_variances, support=constraints.positive),
    ]
