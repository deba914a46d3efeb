"""Closed-form Kullback-Leibler divergences KL(p || q) between distributions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy
from jax.scipy.special import digamma, gammaln

from bayeskit.dist._distribution import Distribution, ExpandedDistribution
from bayeskit.dist._independent import Independent
from bayeskit.dist._special import betaln
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.beta import Beta
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.exponential import Exponential
from bayeskit.dist.gamma import Gamma
from bayeskit.dist.halfnormal import HalfNormal
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.laplace import Laplace
from bayeskit.dist.lognormal import LogNormal
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.normal import Normal
from bayeskit.dist.poisson import Poisson
from bayeskit.dist.uniform import Uniform

__all__ = ["kl_divergence"]


def _normal(p, q):
    ratio = p.scale / q.scale
    return 0.5 * (ratio**2 + ((p.loc - q.loc) / q.scale) ** 2) - 0.5 - jnp.log(ratio)


def _halfnormal(p, q):
    ratio = p.scale / q.scale
    return 0.5 * ratio**2 - 0.5 - jnp.log(ratio)


def _mvn(p, q):
    k = p.event_shape[-1]
    lp, lq = p.scale_tril, q.scale_tril
    lq_b = jnp.broadcast_to(lq, jnp.broadcast_shapes(lq.shape, lp.shape))
    # tr(Sq^-1 Sp) = ||Lq^-1 Lp||_F^2 and the Mahalanobis term via one triangular solve each.
    m = jax.scipy.linalg.solve_triangular(lq_b, jnp.broadcast_to(lp, lq_b.shape), lower=True)
    diff = q.loc - p.loc
    batch = jnp.broadcast_shapes(diff.shape[:-1], lq.shape[:-2])
    lq_d = jnp.broadcast_to(lq, batch + lq.shape[-2:])
    diff = jnp.broadcast_to(diff, batch + diff.shape[-1:])
    y = jax.scipy.linalg.solve_triangular(lq_d, diff[..., None], lower=True)[..., 0]
    log_det = jnp.sum(jnp.log(jnp.diagonal(lq, axis1=-2, axis2=-1)), -1) - jnp.sum(
        jnp.log(jnp.diagonal(lp, axis1=-2, axis2=-1)), -1
    )
    return 0.5 * (jnp.sum(m**2, axis=(-2, -1)) + jnp.sum(y**2, -1) - k) + log_det


def _gamma_params(a1, b1, a2, b2):
    return (
        (a1 - a2) * digamma(a1)
        - gammaln(a1)
        + gammaln(a2)
        + a2 * (jnp.log(b1) - jnp.log(b2))
        + a1 * (b2 - b1) / b1
    )


def _gamma(p, q):
    return _gamma_params(p.concentration, p.rate, q.concentration, q.rate)


def _beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    return (
        betaln(a2, b2)
        - betaln(a1, b1)
        + (a1 - a2) * digamma(a1)
        + (b1 - b2) * digamma(b1)
        + (a2 - a1 + b2 - b1) * digamma(a1 + b1)
    )


def _dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0, b0 = jnp.sum(a, -1), jnp.sum(b, -1)
    return (
        gammaln(a0)
        - jnp.sum(gammaln(a), -1)
        - gammaln(b0)
        + jnp.sum(gammaln(b), -1)
        + jnp.sum((a - b) * (digamma(a) - digamma(a0)[..., None]), -1)
    )


def _exponential(p, q):
    r = q.rate / p.rate
    return r - 1 - jnp.log(r)


def _poisson(p, q):
    # xlogy: a rate of 0 contributes 0 log 0 = 0 (it gave NaN).
    return xlogy(p.rate, p.rate) - xlogy(p.rate, q.rate) - p.rate + q.rate


def _p_log_ratio(lp, lq):
    """p (log p - log q) with 0 where p = 0, whatever q is (0 log 0 = 0; it gave NaN), and no
    NaN in the gradient from the branch not taken."""
    some = lp > -jnp.inf
    lp_safe, lq_safe = jnp.where(some, lp, 0.0), jnp.where(some, lq, 0.0)
    return jnp.where(some, jnp.exp(lp_safe) * (lp_safe - lq_safe), 0.0)


def _bernoulli(p, q):
    lp1, lp0 = jax.nn.log_sigmoid(p.logits), jax.nn.log_sigmoid(-p.logits)
    lq1, lq0 = jax.nn.log_sigmoid(q.logits), jax.nn.log_sigmoid(-q.logits)
    return _p_log_ratio(lp1, lq1) + _p_log_ratio(lp0, lq0)


def _categorical(p, q):
    lp, lq = jax.nn.log_softmax(p.logits, -1), jax.nn.log_softmax(q.logits, -1)
    return jnp.sum(_p_log_ratio(lp, lq), -1)


def _laplace(p, q):
    d = jnp.abs(p.loc - q.loc)
    return jnp.log(q.scale / p.scale) + d / q.scale + p.scale / q.scale * jnp.exp(-d / p.scale) - 1


def _uniform(p, q):
    inside = (q.low <= p.low) & (p.high <= q.high)
    return jnp.where(inside, jnp.log((q.high - q.low) / (p.high - p.low)), jnp.inf)


def _independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise ValueError("kl_divergence: Independent distributions with different event dimensions.")
    kl = kl_divergence(p.base, q.base)
    n = p.reinterpreted_batch_ndims
    return jnp.sum(kl, axis=tuple(range(kl.ndim - n, kl.ndim)))


# KL is invariant under a shared bijection: LogNormal is Normal after log, InverseGamma is Gamma
# after 1/x. Keys are exact types so that a subclass never silently inherits a formula.
_TABLE = {
    (Normal, Normal): _normal,
    (LogNormal, LogNormal): _normal,
    (HalfNormal, HalfNormal): _halfnormal,
    (MultivariateNormal, MultivariateNormal): _mvn,
    (Gamma, Gamma): _gamma,
    (InverseGamma, InverseGamma): _gamma,
    (Beta, Beta): _beta,
    (Dirichlet, Dirichlet): _dirichlet,
    (Exponential, Exponential): _exponential,
    (Poisson, Poisson): _poisson,
    (Bernoulli, Bernoulli): _bernoulli,
    (Categorical, Categorical): _categorical,
    (Laplace, Laplace): _laplace,
    (Uniform, Uniform): _uniform,
    (Independent, Independent): _independent,
}


def kl_divergence(p: Distribution, q: Distribution) -> jax.Array:
    r"""Return KL(p || q) = E_p[log p(x) - log q(x)] in closed form, per batch element.

    Pairs with closed forms: Normal, LogNormal, HalfNormal, MultivariateNormal, Gamma,
    InverseGamma, Beta, Dirichlet, Exponential, Poisson, Bernoulli, Categorical, Laplace and
    Uniform (each with itself), and ``Independent``/expanded versions of these.

    Raises:
        NotImplementedError: no closed form is known for this pair (estimate it by Monte Carlo:
            ``mean(p.log_prob(x) - q.log_prob(x))`` for ``x ~ p``).

    Example:
        >>> float(kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0)))
        0.5
    """
    if isinstance(p, ExpandedDistribution) or isinstance(q, ExpandedDistribution):
        shape = jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
        pb = p.base if isinstance(p, ExpandedDistribution) else p
        qb = q.base if isinstance(q, ExpandedDistribution) else q
        return jnp.broadcast_to(kl_divergence(pb, qb), shape)
    fn = _TABLE.get((type(p), type(q)))
    if fn is None:
        raise NotImplementedError(
            f"kl_divergence: no closed form for KL({type(p).__name__} || {type(q).__name__}). "
            "Estimate it by Monte Carlo: mean of p.log_prob(x) - q.log_prob(x) over draws x from p."
        )
    return fn(p, q)
