r"""MC dropout (Gal & Ghahramani 2016): a network trained with dropout is an approximate posterior.

Training with dropout rate ``p`` on the input of every layer and weight decay

.. math:: \lambda = \frac{l^2 (1 - p)}{2 N \tau}

(prior length-scale ``l``, ``N`` training rows, model precision :math:`\tau = 1/\sigma^2`)
minimises, up to a constant factor, the KL divergence from a Bernoulli variational distribution
over the weights to the posterior of a Bayesian network with prior
:math:`W \sim \mathcal N(0, l^{-2} I)`. Prediction keeps dropout on: ``T`` stochastic passes
:math:`\hat y_t(x)` are samples from the approximate predictive, and the predictive is the mixture
:math:`\frac1T \sum_t \mathcal N(y \mid \hat y_t(x), \tau^{-1})`: its variance splits into the
aleatoric :math:`\tau^{-1}` and the epistemic variance of the passes.

The objective used here is the mean Gaussian negative log-likelihood plus
:math:`\frac{l^2(1-p)}{2N}\sum_l \lVert W_l\rVert^2`; divided by :math:`\tau` it is
:math:`\frac1{2N}\sum_i (y_i - \hat y_i)^2 + \lambda \sum_l \lVert W_l\rVert^2` plus a constant, the
form of the paper. With ``tau=None`` the noise level is learned with the weights instead.

Reference: Gal & Ghahramani (2016), "Dropout as a Bayesian approximation: representing model
uncertainty in deep learning", ICML.
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
from bayeskit.nn.networks import dense_forward, dropout_weight_penalty, init_dense
from bayeskit.nn.predictive import ClassificationPredictive, RegressionPredictive
from bayeskit.nn.training import TrainHistory, train

__all__ = ["MCDropoutClassifier", "MCDropoutRegressor"]

_VALIDATION_PASSES = 20


# Passes run in batches whose hidden activations hold at most this many numbers (32 MB in float64):
# all T passes at once would hold T x n x width, tens of GB for a validation split of thousands of
# rows under a vmap over a hyperparameter grid.
_PASS_BATCH_ELEMENTS = 2**22


@eqx.filter_jit
def _passes(layers, X, key, rate, num_passes: int, drop_input: bool = True):
    """``num_passes`` dropout passes of the whole batch: outputs of shape ``(T, n, out)``."""
    width = max(max(W.shape) for W, _ in layers)
    batch = max(1, min(num_passes, _PASS_BATCH_ELEMENTS // max(1, X.shape[0] * width)))
    keys = jax.random.split(key, num_passes)
    forward = lambda k: dense_forward(layers, X, k, rate, drop_input=drop_input)
    return jax.lax.map(forward, keys, batch_size=batch)


class _GaussianLikelihood(eqx.Module):
    """Per-point Gaussian NLL of a one-output network; ``log_noise`` fixed (from tau) or learned."""

    log_noise: jax.Array | None  # None: learned, read from params["log_noise"]

    def noise(self, params):
        return params["log_noise"] if self.log_noise is None else self.log_noise

    def terms(self, params, out, y):
        return gaussian_nll_terms(y, *gaussian_head(out, self.noise(params)))

    def predictive_nll(self, params, outs, y):
        return metrics.sample_nll(y, outs[..., 0], jnp.exp(self.noise(params)))


class _CategoricalLikelihood(eqx.Module):
    """Per-point cross-entropy of softmax outputs."""

    def terms(self, params, out, y):
        return -jnp.take_along_axis(jax.nn.log_softmax(out), y[:, None], axis=1)[:, 0]

    def predictive_nll(self, params, outs, y):
        return metrics.classification_nll(y, jnp.mean(jax.nn.softmax(outs), axis=0))


class _DropoutObjective(eqx.Module):
    likelihood: eqx.Module
    rate: jax.Array
    decay: jax.Array
    drop_input: bool = eqx.field(static=True)

    def __call__(self, key, params, X, y):
        layers = params["layers"]
        out = dense_forward(layers, X, key, self.rate, drop_input=self.drop_input)
        penalty = dropout_weight_penalty(layers, self.decay, self.rate, self.drop_input)
        return jnp.mean(self.likelihood.terms(params, out, y)) + penalty


class _DropoutValidation(eqx.Module):
    likelihood: eqx.Module
    rate: jax.Array
    drop_input: bool = eqx.field(static=True)

    def __call__(self, key, params, X, y):
        outs = jax.vmap(
            lambda k: dense_forward(params["layers"], X, k, self.rate, drop_input=self.drop_input)
        )(jax.random.split(key, _VALIDATION_PASSES))
        return self.likelihood.predictive_nll(params, outs, y)


class _MCDropout(eqx.Module):
    hidden: tuple[int, ...] = eqx.field(static=True)
    dropout_rate: float
    lengthscale: float
    num_epochs: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    learning_rate: float = eqx.field(static=True)
    patience: int | None = eqx.field(static=True)
    num_passes: int = eqx.field(static=True)
    progress_bar: bool = eqx.field(static=True)
    params: object = None
    scaling: Scaling | None = None
    predict_key: jax.Array | None = None
    history: TrainHistory | None = None
    drop_inputs: bool = eqx.field(static=True, default=True)

    def _check_hyper(self, owner):
        checks.check_hidden(owner, self.hidden)
        checks.check_rate(owner, "dropout_rate", self.dropout_rate)
        checks.check_positive(owner, "lengthscale", self.lengthscale)
        for name in ("num_epochs", "batch_size", "num_passes"):
            checks.check_positive_int(owner, name, getattr(self, name))
        if self.patience is not None:
            checks.check_positive_int(owner, "patience", self.patience)
        checks.check_positive(owner, "learning_rate", self.learning_rate)
        if not isinstance(self.drop_inputs, bool):
            raise ValueError(f"{owner}: `drop_inputs` must be True or False, got {self.drop_inputs!r}.")

    def weight_decay_factor(self, num_train: int):
        """:math:`l^2(1-p)/(2N)`, the prior's weight on the squared weights in the per-point objective."""
        return self.lengthscale**2 * (1.0 - self.dropout_rate) / (2.0 * num_train)

    def _train(self, key, params, likelihood, X, y, Xv, yv):
        rate = jnp.asarray(self.dropout_rate, X.dtype)
        decay = jnp.asarray(self.weight_decay_factor(X.shape[0]), X.dtype)
        return train(
            key,
            params,
            _DropoutObjective(likelihood, rate, decay, self.drop_inputs),
            X,
            y,
            learning_rate=self.learning_rate,
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            validation=None if Xv is None else (Xv, yv),
            val_fn=None if Xv is None else _DropoutValidation(likelihood, rate, self.drop_inputs),
            patience=self.patience,
            progress_bar=self.progress_bar,
            description=type(self).__name__,
        )


class MCDropoutRegressor(_MCDropout):
    r"""Regression with MC dropout: a ReLU network, dropout kept on at prediction.

    Inputs and targets are standardised on the training data; everything the user sees (``tau``,
    predictions) is in the original units.

    Args:
        hidden: hidden-layer widths (default one layer of 50 units, the UCI protocol's).
        dropout_rate: the probability ``p`` of dropping a unit, in (0, 1).
        drop_inputs: drop the inputs too (default, as in Gal & Ghahramani's UCI networks); with
            few input columns (a 1-D regression) a dropped input erases the row, so turn it off:
            the first layer's weight decay then uses ``p = 0``.
        tau: the model precision :math:`\tau = 1/\sigma^2` in the units of ``y``; ``None`` learns a
            homoscedastic noise level with the weights.
        lengthscale: the prior length-scale ``l`` (prior :math:`\mathcal N(0, l^{-2})` on weights
            of the standardised problem).
        num_epochs, batch_size, learning_rate: Adam on minibatches.
        patience: early-stopping patience in epochs (used with validation data).
        num_passes: stochastic forward passes ``T`` at prediction.
        progress_bar: show a ``rich`` progress bar while training.

    Example:
        >>> model = MCDropoutRegressor(dropout_rate=0.05, tau=100.0).fit(key, X, y)
        >>> pred = model.predict(X_new)  # pred.mean, pred.epistemic_var, pred.aleatoric_var
    """

    tau: float | None = None

    def __init__(
        self,
        hidden=(50,),
        dropout_rate=0.05,
        tau=None,
        lengthscale=1e-2,
        num_epochs: int = 400,
        batch_size: int = 32,
        learning_rate: float = 1e-2,
        patience: int | None = None,
        num_passes: int = 1000,
        progress_bar: bool = False,
        drop_inputs: bool = True,
    ):
        self.hidden = checks.check_hidden("MCDropoutRegressor", hidden)
        self.drop_inputs = drop_inputs
        self.dropout_rate, self.tau, self.lengthscale = dropout_rate, tau, lengthscale
        self.num_epochs, self.batch_size, self.learning_rate = num_epochs, batch_size, learning_rate
        self.patience, self.num_passes, self.progress_bar = patience, num_passes, progress_bar
        self._check_hyper("MCDropoutRegressor")
        if tau is not None:
            checks.check_positive("MCDropoutRegressor", "tau", tau)

    def weight_decay(self, num_train: int, y_scale=1.0):
        r"""Gal & Ghahramani's :math:`\lambda = l^2(1-p)/(2N\tau)` for ``N`` rows (``tau`` in standardised units
        when the target's standard deviation ``y_scale`` is given: :math:`\tau_{std} = \tau\, s_y^2`)."""
        if self.tau is None:
            raise ValueError("MCDropoutRegressor.weight_decay: `tau` is None (learned); give a fixed `tau`.")
        return self.weight_decay_factor(num_train) / (self.tau * y_scale**2)

    def _log_noise(self, params, scaling):
        if self.tau is None:
            return params["log_noise"]
        return -0.5 * jnp.log(self.tau * scaling.y_scale**2)

    def objective(self, key, params, X, y, num_train: int, scaling: Scaling):
        """The per-point training objective on a standardised batch (exposed for tests and inspection)."""
        layers = params["layers"]
        out = dense_forward(layers, X, key, self.dropout_rate, drop_input=self.drop_inputs)
        loc, scale = gaussian_head(out, self._log_noise(params, scaling))
        penalty = dropout_weight_penalty(
            layers, self.weight_decay_factor(num_train), self.dropout_rate, self.drop_inputs
        )
        return jnp.mean(gaussian_nll_terms(y, loc, scale)) + penalty

    def fit(self, key: jax.Array, X, y, validation=None) -> MCDropoutRegressor:
        """Train on ``(X, y)`` and return a fitted copy (this one is unchanged).

        Args:
            key: a ``jax.random`` key (initial weights, minibatches, masks, and the prediction key).
            X: inputs ``(n, d)`` (or ``(n,)``); y: targets ``(n,)``.
            validation: ``None``, a fraction of the rows to hold out for early stopping, or
                ``(X_val, y_val)``.
        """
        key = check_key(key, "MCDropoutRegressor.fit")
        X, y = checks.check_regression_data("MCDropoutRegressor", X, y)
        k_init, k_val, k_train, k_pred = jax.random.split(key, 4)
        X, y, Xv, yv = carve_validation(k_val, X, y, validation, "MCDropoutRegressor")
        scaling = Scaling.fit(X, y)
        params = {"layers": init_dense(k_init, (X.shape[1], *self.hidden, head_size(False)), X.dtype)}
        if self.tau is None:
            params["log_noise"] = jnp.asarray(jnp.log(0.5), X.dtype)

        fixed = None if self.tau is None else self._log_noise(params, scaling).astype(X.dtype)
        params, history = self._train(
            k_train,
            params,
            _GaussianLikelihood(fixed),
            scaling.x(X),
            scaling.y(y),
            None if Xv is None else scaling.x(Xv),
            None if Xv is None else scaling.y(yv),
        )
        return with_fitted(self, params=params, scaling=scaling, predict_key=k_pred, history=history)

    def predict(self, X, key: jax.Array | None = None, num_passes: int | None = None) -> RegressionPredictive:
        """Predict with ``num_passes`` dropout masks (default ``self.num_passes``).

        The masks come from ``key``, or, without one, from a key split off the fit key, so that
        ``predict(X)`` is repeatable.
        """
        checks.check_fitted("MCDropoutRegressor", self.params)
        X = checks.check_features("MCDropoutRegressor", X, self.scaling.x_loc.shape[0])
        T = checks.check_positive_int(
            "MCDropoutRegressor", "num_passes", self.num_passes if num_passes is None else num_passes
        )
        outs = _passes(
            self.params["layers"],
            self.scaling.x(X),
            self.predict_key if key is None else check_key(key, f"{type(self).__name__}.predict"),
            jnp.asarray(self.dropout_rate),
            T,
            self.drop_inputs,
        )
        loc = outs[..., 0] * self.scaling.y_scale + self.scaling.y_loc
        scale = jnp.exp(self._log_noise(self.params, self.scaling)) * self.scaling.y_scale
        return RegressionPredictive(loc, jnp.broadcast_to(scale, (1, 1)))


class MCDropoutClassifier(_MCDropout):
    r"""Classification with MC dropout: softmax outputs averaged over ``T`` dropout passes.

    Trained on the cross-entropy plus :math:`\frac{l^2(1-p)}{2N}\sum_l\lVert W_l\rVert^2`; the
    predictive's mutual information (BALD) is the epistemic part of its entropy. Arguments as for
    :class:`MCDropoutRegressor` (no ``tau``: the likelihood is categorical).

    Example:
        >>> clf = MCDropoutClassifier(dropout_rate=0.1).fit(key, X, labels)
        >>> pred = clf.predict(X_new)  # pred.probs, pred.mutual_information
    """

    num_classes: int | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        hidden=(50,),
        dropout_rate=0.1,
        lengthscale=1e-2,
        num_epochs: int = 200,
        batch_size: int = 32,
        learning_rate: float = 1e-2,
        patience: int | None = None,
        num_passes: int = 200,
        progress_bar: bool = False,
        num_classes: int | None = None,
        drop_inputs: bool = True,
    ):
        self.hidden = checks.check_hidden("MCDropoutClassifier", hidden)
        self.drop_inputs = drop_inputs
        self.dropout_rate, self.lengthscale = dropout_rate, lengthscale
        self.num_epochs, self.batch_size, self.learning_rate = num_epochs, batch_size, learning_rate
        self.patience, self.num_passes, self.progress_bar = patience, num_passes, progress_bar
        self.num_classes = num_classes
        self._check_hyper("MCDropoutClassifier")

    def fit(self, key: jax.Array, X, y, validation=None) -> MCDropoutClassifier:
        """Train on inputs ``X`` and labels ``y`` in ``0..K-1``; return a fitted copy."""
        key = check_key(key, "MCDropoutClassifier.fit")
        X, y, K = checks.check_classification_data("MCDropoutClassifier", X, y, self.num_classes)
        k_init, k_val, k_train, k_pred = jax.random.split(key, 4)
        X, y, Xv, yv = carve_validation(k_val, X, y, validation, "MCDropoutClassifier", num_classes=K)
        scaling = Scaling.fit(X)
        params = {"layers": init_dense(k_init, (X.shape[1], *self.hidden, K), X.dtype)}

        Xv_s = None if Xv is None else scaling.x(jnp.asarray(Xv))
        params, history = self._train(k_train, params, _CategoricalLikelihood(), scaling.x(X), y, Xv_s, yv)
        return with_fitted(
            self, params=params, scaling=scaling, predict_key=k_pred, history=history, num_classes=K
        )

    def predict(
        self, X, key: jax.Array | None = None, num_passes: int | None = None
    ) -> ClassificationPredictive:
        """Class-probability samples from ``num_passes`` dropout masks (key as in the regressor)."""
        checks.check_fitted("MCDropoutClassifier", self.params)
        X = checks.check_features("MCDropoutClassifier", X, self.scaling.x_loc.shape[0])
        T = checks.check_positive_int(
            "MCDropoutClassifier", "num_passes", self.num_passes if num_passes is None else num_passes
        )
        outs = _passes(
            self.params["layers"],
            self.scaling.x(X),
            self.predict_key if key is None else check_key(key, f"{type(self).__name__}.predict"),
            jnp.asarray(self.dropout_rate),
            T,
            self.drop_inputs,
        )
        return ClassificationPredictive(jax.nn.softmax(outs, axis=-1))
