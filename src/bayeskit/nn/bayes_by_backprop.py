r"""Bayes-by-backprop (Blundell et al. 2015): a mean-field Gaussian posterior over every weight.

Each weight and bias has its own variational Gaussian
:math:`q(w) = \mathcal N(\mu, \sigma^2)`, :math:`\sigma = \operatorname{softplus}(\rho)`, and the
prior is :math:`p(w) = \mathcal N(0, s^2)`. Training maximises the evidence lower bound, here
as a per-point loss to minimise,

.. math::
    \mathcal L(\mu, \rho) = -\frac1N \sum_i \mathbb E_q \log p(y_i \mid x_i, w)
        + \frac1N \operatorname{KL}\big(q(w) \,\|\, p(w)\big),
    \qquad
    \operatorname{KL} = \sum_j \Big[\log\frac{s}{\sigma_j} + \frac{\sigma_j^2 + \mu_j^2}{2 s^2} - \frac12\Big],

with the KL in closed form and the expected log-likelihood estimated on minibatches by the local
reparameterisation trick (Kingma, Salimans & Welling 2015): for a layer with inputs ``h`` the
pre-activations are Gaussian given ``h``, :math:`\mathcal N(h\mu_W + \mu_b,\ h^2\sigma_W^2 + \sigma_b^2)`,
and are sampled directly, one draw per row, which has lower variance than sampling the weights.
Prediction samples whole weight sets, so each of the ``S`` passes is one function.

References: Blundell, Cornebise, Kavukcuoglu & Wierstra (2015), "Weight uncertainty in neural
networks", ICML; Kingma, Salimans & Welling (2015), "Variational dropout and the local
reparameterization trick", NeurIPS.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from bayeskit import metrics
from bayeskit._key import check_key
from bayeskit.nn import _bdl_checks as checks
from bayeskit.nn._fitted import with_fitted
from bayeskit.nn._standardize import Scaling, carve_validation
from bayeskit.nn.gaussian_head import gaussian_head, gaussian_nll_terms, head_size
from bayeskit.nn.networks import init_dense
from bayeskit.nn.predictive import RegressionPredictive
from bayeskit.nn.training import TrainHistory, train

__all__ = ["BayesByBackpropRegressor", "gaussian_kl"]

_VALIDATION_DRAWS = 20


def gaussian_kl(loc, scale, prior_scale) -> jax.Array:
    r"""Sum of :math:`\operatorname{KL}(\mathcal N(\mu, \sigma^2) \| \mathcal N(0, s^2))` over all entries.

    Example:
        >>> float(gaussian_kl(jnp.zeros(3), jnp.ones(3), 1.0))
        0.0
    """
    return jnp.sum(jnp.log(prior_scale / scale) + (scale**2 + loc**2) / (2.0 * prior_scale**2) - 0.5)


def _scales(layers):
    return [(jax.nn.softplus(rw), jax.nn.softplus(rb)) for _, rw, _, rb in layers]


def _kl(layers, prior_scale):
    return sum(
        gaussian_kl(mw, sw, prior_scale) + gaussian_kl(mb, sb, prior_scale)
        for (mw, _, mb, _), (sw, sb) in zip(layers, _scales(layers))
    )


def _forward_local(layers, X, key):
    """One pass with the local reparameterisation trick: pre-activations sampled per row."""
    h = X
    for i, ((mw, _, mb, _), (sw, sb), k) in enumerate(
        zip(layers, _scales(layers), jax.random.split(key, len(layers)))
    ):
        mean = h @ mw + mb
        var = (h**2) @ (sw**2) + sb**2
        h = mean + jnp.sqrt(var) * jax.random.normal(k, mean.shape, mean.dtype)
        if i < len(layers) - 1:
            h = jax.nn.relu(h)
    return h


def _forward_sampled(layers, X, key):
    """One pass with one weight set drawn from q (the same function for every row)."""
    h = X
    for i, ((mw, _, mb, _), (sw, sb), k) in enumerate(
        zip(layers, _scales(layers), jax.random.split(key, len(layers)))
    ):
        kw, kb = jax.random.split(k)
        W = mw + sw * jax.random.normal(kw, mw.shape, mw.dtype)
        b = mb + sb * jax.random.normal(kb, mb.shape, mb.dtype)
        h = h @ W + b
        if i < len(layers) - 1:
            h = jax.nn.relu(h)
    return h


@eqx.filter_jit
def _draws(params, X, key, num_draws: int):
    outs = jax.vmap(lambda k: _forward_sampled(params["layers"], X, k))(jax.random.split(key, num_draws))
    return jax.vmap(lambda o: gaussian_head(o, params.get("log_noise")))(outs)


class _ELBOLoss(eqx.Module):
    prior_scale: jax.Array
    num_train: jax.Array

    def kl(self, params):
        return _kl(params["layers"], self.prior_scale)

    def __call__(self, key, params, X, y):
        loc, scale = gaussian_head(_forward_local(params["layers"], X, key), params.get("log_noise"))
        return jnp.mean(gaussian_nll_terms(y, loc, scale)) + self.kl(params) / self.num_train


class _Validation(eqx.Module):
    def __call__(self, key, params, X, y):
        outs = jax.vmap(lambda k: _forward_sampled(params["layers"], X, k))(
            jax.random.split(key, _VALIDATION_DRAWS)
        )
        loc, scale = jax.vmap(lambda o: gaussian_head(o, params.get("log_noise")))(outs)
        return metrics.mixture_nll(y, loc, scale)


class BayesByBackpropRegressor(eqx.Module):
    r"""Regression with a mean-field Gaussian posterior over the weights, trained on the ELBO.

    Inputs and targets are standardised on the training data (the prior is on the weights of the
    standardised problem); predictions are in the original units.

    Args:
        hidden: hidden-layer widths (default one layer of 50 ReLU units).
        prior_scale: the prior standard deviation ``s`` of every weight and bias.
        heteroscedastic: predict the noise per point (two outputs); otherwise one learned noise
            level (a point estimate, like the other hyperparameters).
        init_scale: the initial posterior standard deviation of every weight (small, so training
            starts near a deterministic network).
        num_epochs, batch_size, learning_rate, patience: Adam on minibatches, early stopping
            with validation data.
        num_draws: weight sets ``S`` drawn at prediction.
        progress_bar: show a ``rich`` progress bar while training.

    Example:
        >>> model = BayesByBackpropRegressor().fit(key, X, y)
        >>> pred = model.predict(X_new)  # pred.mean, pred.epistemic_var, pred.aleatoric_var
    """

    hidden: tuple[int, ...] = eqx.field(static=True)
    prior_scale: float
    heteroscedastic: bool = eqx.field(static=True)
    init_scale: float
    num_epochs: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    learning_rate: float
    patience: int | None = eqx.field(static=True)
    num_draws: int = eqx.field(static=True)
    progress_bar: bool = eqx.field(static=True)
    params: object = None
    scaling: Scaling | None = None
    predict_key: jax.Array | None = None
    history: TrainHistory | None = None

    def __init__(
        self,
        hidden=(50,),
        prior_scale=1.0,
        heteroscedastic: bool = False,
        init_scale=1e-3,
        num_epochs: int = 400,
        batch_size: int = 32,
        learning_rate=1e-2,
        patience: int | None = None,
        num_draws: int = 200,
        progress_bar: bool = False,
    ):
        owner = "BayesByBackpropRegressor"
        self.hidden = checks.check_hidden(owner, hidden)
        self.prior_scale = checks.check_positive(owner, "prior_scale", prior_scale)
        self.heteroscedastic = bool(heteroscedastic)
        self.init_scale = checks.check_positive(owner, "init_scale", init_scale)
        self.num_epochs = checks.check_positive_int(owner, "num_epochs", num_epochs)
        self.batch_size = checks.check_positive_int(owner, "batch_size", batch_size)
        self.learning_rate = checks.check_positive(owner, "learning_rate", learning_rate)
        self.patience = None if patience is None else checks.check_positive_int(owner, "patience", patience)
        self.num_draws = checks.check_positive_int(owner, "num_draws", num_draws)
        self.progress_bar = progress_bar

    def init_params(self, key: jax.Array, num_features: int, dtype=None) -> dict:
        """Initial variational parameters: He-normal means, ``rho`` giving ``init_scale`` everywhere."""
        sizes = (num_features, *self.hidden, head_size(self.heteroscedastic))
        rho = jnp.log(jnp.expm1(jnp.asarray(self.init_scale, dtype)))  # softplus^{-1}
        layers = tuple(
            (W, jnp.full_like(W, rho), b, jnp.full_like(b, rho)) for W, b in init_dense(key, sizes, dtype)
        )
        params = {"layers": layers}
        if not self.heteroscedastic:
            params["log_noise"] = jnp.asarray(jnp.log(0.5), dtype)
        return params

    def kl(self, params) -> jax.Array:
        """The closed-form KL divergence from ``q(w)`` to the prior, summed over all weights."""
        return _kl(params["layers"], jnp.asarray(self.prior_scale))

    def objective(self, key, params, X, y, num_train: int) -> jax.Array:
        """The negative ELBO per training point on a standardised batch (one local-reparameterised draw)."""
        return _ELBOLoss(jnp.asarray(self.prior_scale), jnp.asarray(num_train))(key, params, X, y)

    def fit(self, key: jax.Array, X, y, validation=None) -> BayesByBackpropRegressor:
        """Train on ``(X, y)`` and return a fitted copy.

        Args:
            key: a ``jax.random`` key (initial means, minibatches, noise, the prediction key).
            X: inputs ``(n, d)`` or ``(n,)``; y: targets ``(n,)``.
            validation: ``None``, a fraction to hold out for early stopping, or ``(X_val, y_val)``.
        """
        key = check_key(key, "BayesByBackpropRegressor.fit")
        owner = "BayesByBackpropRegressor"
        X, y = checks.check_regression_data(owner, X, y)
        k_init, k_val, k_train, k_pred = jax.random.split(key, 4)
        X, y, Xv, yv = carve_validation(k_val, X, y, validation, owner)
        scaling = Scaling.fit(X, y)
        params = self.init_params(k_init, X.shape[1], X.dtype)
        loss = _ELBOLoss(jnp.asarray(self.prior_scale, X.dtype), jnp.asarray(X.shape[0], X.dtype))
        params, history = train(
            k_train,
            params,
            loss,
            scaling.x(X),
            scaling.y(y),
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            validation=None if Xv is None else (scaling.x(Xv), scaling.y(yv)),
            val_fn=None if Xv is None else _Validation(),
            patience=self.patience,
            progress_bar=self.progress_bar,
            description=owner,
        )
        return with_fitted(self, params=params, scaling=scaling, predict_key=k_pred, history=history)

    def predict(self, X, key: jax.Array | None = None, num_draws: int | None = None) -> RegressionPredictive:
        """Predict with ``num_draws`` weight sets from ``q`` (from ``key``, or the key kept at fit)."""
        owner = "BayesByBackpropRegressor"
        checks.check_fitted(owner, self.params)
        X = checks.check_features(owner, X, self.scaling.x_loc.shape[0])
        S = checks.check_positive_int(owner, "num_draws", self.num_draws if num_draws is None else num_draws)
        loc, scale = _draws(
            self.params,
            self.scaling.x(X),
            self.predict_key if key is None else check_key(key, f"{owner}.predict"),
            S,
        )
        return RegressionPredictive(
            loc * self.scaling.y_scale + self.scaling.y_loc, scale * self.scaling.y_scale
        )
