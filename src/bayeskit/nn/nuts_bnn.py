r"""A small Bayesian neural network sampled exactly with NUTS: the reference the approximations chase.

The model, written in :mod:`bayeskit.ppl` on standardised data:

.. math::
    W_l, b_l \sim \mathcal N(0, s^2), \quad \sigma \sim \text{Half-Normal}(1), \quad
    y_i \sim \mathcal N\big(f_W(x_i), \sigma^2\big),

with ``f`` a small tanh network (smooth, so Hamiltonian dynamics behave). The full-batch
log density is sampled by :func:`bayeskit.mcmc.sample` (NUTS, chains vectorised). Every posterior
draw is one function; the predictive is the mixture over draws, split into aleatoric and
epistemic variance like the approximations'. The posterior of a network is multimodal
(permutations, sign flips); chains explore a few modes, which is what an ensemble approximates
too. Keep it to a few hundred points and a few dozen hidden units.

Reference: Neal (1996), "Bayesian learning for neural networks"; Hoffman & Gelman (2014), NUTS.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

import bayeskit.dist as dist
from bayeskit._key import check_key
from bayeskit.mcmc import sample
from bayeskit.nn import _bdl_checks as checks
from bayeskit.nn._fitted import with_fitted
from bayeskit.nn._standardize import Scaling
from bayeskit.nn.predictive import RegressionPredictive
from bayeskit.ppl import target

__all__ = ["NUTSBNNRegressor", "bnn_model"]


def _forward(weights, X):
    h = X
    for i, (W, b) in enumerate(weights):
        h = h @ W + b
        if i < len(weights) - 1:
            h = jnp.tanh(h)
    return h[..., 0]


def bnn_model(m, X, y=None, hidden=(10,), prior_scale=1.0):
    """The BNN as a bayeskit model: Gaussian weights, half-normal noise, Gaussian likelihood."""
    sizes = (X.shape[1], *hidden, 1)
    weights = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = m.sample(f"W{i}", dist.Normal(0.0, prior_scale).expand((n_in, n_out)).to_event(2))
        b = m.sample(f"b{i}", dist.Normal(0.0, prior_scale).expand((n_out,)).to_event(1))
        weights.append((W, b))
    sigma = m.sample("sigma", dist.HalfNormal(1.0))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(_forward(weights, X), sigma), obs=y)


class NUTSBNNRegressor(eqx.Module):
    """Full-batch NUTS on a small tanh network (a gold standard for small data).

    Args:
        hidden: hidden-layer widths (keep small: 10-50 units in total).
        prior_scale: the prior standard deviation of every weight.
        num_chains, num_warmup, num_samples: the MCMC run (draws kept: chains x samples).
        progress_bar: show the sampler's progress bar.

    Example:
        >>> bnn = NUTSBNNRegressor(hidden=(10,)).fit(key, X, y)
        >>> pred = bnn.predict(X_new)  # mixture over posterior draws
    """

    hidden: tuple[int, ...] = eqx.field(static=True)
    prior_scale: float
    num_chains: int = eqx.field(static=True)
    num_warmup: int = eqx.field(static=True)
    num_samples: int = eqx.field(static=True)
    progress_bar: bool = eqx.field(static=True)
    draws: dict | None = None
    scaling: Scaling | None = None
    posterior: object = eqx.field(static=True, default=None)

    def __init__(
        self,
        hidden=(10,),
        prior_scale=1.0,
        num_chains: int = 4,
        num_warmup: int = 500,
        num_samples: int = 250,
        progress_bar: bool = False,
    ):
        owner = "NUTSBNNRegressor"
        self.hidden = checks.check_hidden(owner, hidden)
        self.prior_scale = checks.check_positive(owner, "prior_scale", prior_scale)
        self.num_chains = checks.check_positive_int(owner, "num_chains", num_chains)
        self.num_warmup = checks.check_positive_int(owner, "num_warmup", num_warmup)
        self.num_samples = checks.check_positive_int(owner, "num_samples", num_samples)
        self.progress_bar = progress_bar

    def fit(self, key: jax.Array, X, y) -> NUTSBNNRegressor:
        """Sample the posterior given ``(X, y)``; return a fitted copy holding the draws and the Posterior."""
        key = check_key(key, "NUTSBNNRegressor.fit")
        X, y = checks.check_regression_data("NUTSBNNRegressor", X, y)
        scaling = Scaling.fit(X, y)
        tgt = target(bnn_model, scaling.x(X), scaling.y(y), hidden=self.hidden, prior_scale=self.prior_scale)
        posterior = sample(
            key,
            tgt,
            num_chains=self.num_chains,
            num_warmup=self.num_warmup,
            num_samples=self.num_samples,
            progress_bar=self.progress_bar,
            warn=False,
        )
        draws = {
            name: jnp.asarray(v).reshape((-1,) + v.shape[2:])
            for name, v in posterior.draws.items()
            if name != "y"
        }
        return with_fitted(self, draws=draws, scaling=scaling, posterior=posterior)

    def predict(self, X) -> RegressionPredictive:
        """The mixture over all posterior draws at ``X`` (no key: every draw is used)."""
        checks.check_fitted("NUTSBNNRegressor", self.draws)
        X = checks.check_features("NUTSBNNRegressor", X, self.scaling.x_loc.shape[0])
        num_layers = len(self.hidden) + 1
        weights = [(self.draws[f"W{i}"], self.draws[f"b{i}"]) for i in range(num_layers)]
        loc = jax.vmap(_forward, in_axes=(0, None))(weights, self.scaling.x(X))
        scale = self.draws["sigma"][:, None]
        return RegressionPredictive(
            loc * self.scaling.y_scale + self.scaling.y_loc, scale * self.scaling.y_scale
        )
