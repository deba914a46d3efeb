r"""Deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017): M networks, a uniform mixture.

Each member is trained from its own random initialisation and its own shuffling of the data on a
proper scoring rule: the heteroscedastic Gaussian negative log-likelihood for regression, the
cross-entropy for classification. All ``M`` members train at once: the training loop is
``vmap``-ed over the members' keys and parameters. The prediction is the uniform mixture
:math:`\frac1M\sum_m \mathcal N(\mu_m(x), \sigma_m^2(x))`, whose variance splits into the mean
predicted noise (aleatoric) and the spread of the members' means (epistemic).

Optional adversarial training with the fast gradient sign method (Goodfellow et al. 2015), as in
the paper: for each batch, :math:`x' = x + \epsilon\, \operatorname{sign}\nabla_x \ell(\theta, x, y)`
and the member minimises :math:`\ell(\theta, x, y) + \ell(\theta, x', y)`; ``epsilon`` is a fraction
of each input's range on the training data (the paper's 1%).

Reference: Lakshminarayanan, Pritzel & Blundell (2017), "Simple and scalable predictive
uncertainty estimation using deep ensembles", NeurIPS.
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
from bayeskit.nn.networks import dense_forward, init_dense
from bayeskit.nn.predictive import ClassificationPredictive, RegressionPredictive, as_targets
from bayeskit.nn.training import TrainHistory, train

__all__ = ["DeepEnsembleClassifier", "DeepEnsembleRegressor"]


def _gaussian_terms(params, X, y):
    return gaussian_nll_terms(y, *gaussian_head(dense_forward(params["layers"], X), params.get("log_noise")))


def _categorical_terms(params, X, y):
    logits = dense_forward(params["layers"], X)
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


class _MemberLoss(eqx.Module):
    """One member's loss, with the fast-gradient-sign adversarial term when ``epsilon`` is nonzero."""

    is_classifier: bool = eqx.field(static=True)
    adversarial: bool = eqx.field(static=True)
    epsilon: jax.Array  # per input column, standardised units

    def terms(self, params, X, y):
        return (_categorical_terms if self.is_classifier else _gaussian_terms)(params, X, y)

    def __call__(self, key, params, X, y):
        loss = jnp.mean(self.terms(params, X, y))
        if not self.adversarial:
            return loss
        grad_x = jax.grad(lambda x: jnp.sum(self.terms(params, x, y)))(X)
        X_adv = jax.lax.stop_gradient(X + self.epsilon * jnp.sign(grad_x))
        return loss + jnp.mean(self.terms(params, X_adv, y))


class _MemberValidation(eqx.Module):
    loss: _MemberLoss

    def __call__(self, key, params, X, y):
        return jnp.mean(self.loss.terms(params, X, y))


@eqx.filter_jit
def _train_members(keys, params, loss, val, data, learning_rate, num_epochs: int, batch_size: int, patience):
    X, y, Xv, yv = data

    def one(key, p):
        return train(
            key,
            p,
            loss,
            X,
            y,
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            validation=None if Xv is None else (Xv, yv),
            val_fn=None if Xv is None else val,
            patience=patience,
        )

    return jax.vmap(one)(keys, params)


@eqx.filter_jit
def _member_outputs(params, X):
    return jax.vmap(lambda p: dense_forward(p["layers"], X))(params)


class _Ensemble(eqx.Module):
    num_members: int = eqx.field(static=True)
    hidden: tuple[int, ...] = eqx.field(static=True)
    adversarial_epsilon: float
    num_epochs: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    learning_rate: float
    patience: int | None = eqx.field(static=True)
    params: object = None
    scaling: Scaling | None = None
    history: TrainHistory | None = None

    def _set(
        self, owner, num_members, hidden, adversarial_epsilon, num_epochs, batch_size, learning_rate, patience
    ):
        self.num_members = checks.check_positive_int(owner, "num_members", num_members, minimum=2)
        self.hidden = checks.check_hidden(owner, hidden)
        if adversarial_epsilon is not None and not isinstance(adversarial_epsilon, jax.core.Tracer):
            if not (0.0 <= float(adversarial_epsilon) < 1.0):
                raise ValueError(
                    f"{owner}: `adversarial_epsilon` must be in [0, 1), got {adversarial_epsilon!r}."
                )
        self.adversarial_epsilon = adversarial_epsilon
        self.num_epochs = checks.check_positive_int(owner, "num_epochs", num_epochs)
        self.batch_size = checks.check_positive_int(owner, "batch_size", batch_size)
        self.learning_rate = checks.check_positive(owner, "learning_rate", learning_rate)
        self.patience = None if patience is None else checks.check_positive_int(owner, "patience", patience)

    def _fit(self, key, X, y, Xv, yv, scaling, out_size, is_classifier, extra_params):
        k_init, k_train = jax.random.split(key)
        sizes = (X.shape[1], *self.hidden, out_size)
        init_keys = jax.random.split(k_init, self.num_members)
        params = {"layers": jax.vmap(lambda k: init_dense(k, sizes, X.dtype))(init_keys)}
        params.update({k: jnp.broadcast_to(v, (self.num_members,)) for k, v in extra_params.items()})
        Xs = scaling.x(X)
        eps = self.adversarial_epsilon or 0.0
        loss = _MemberLoss(is_classifier, bool(eps), eps * (jnp.max(Xs, axis=0) - jnp.min(Xs, axis=0)))
        ys = y if is_classifier else scaling.y(y)
        if Xv is not None:
            Xv, yv = scaling.x(Xv), (yv if is_classifier else scaling.y(yv))
        return _train_members(
            jax.random.split(k_train, self.num_members),
            params,
            loss,
            _MemberValidation(loss),
            (Xs, ys, Xv, yv),
            jnp.asarray(self.learning_rate, X.dtype),
            self.num_epochs,
            min(self.batch_size, X.shape[0]),
            self.patience,
        )


class DeepEnsembleRegressor(_Ensemble):
    r"""Regression with ``M`` heteroscedastic networks trained at once; predictions are their mixture.

    Args:
        num_members: ensemble size ``M`` (at least 2; the paper uses 5).
        hidden: hidden-layer widths (default one layer of 50 ReLU units).
        heteroscedastic: each member predicts its own noise per point (default, as in the paper);
            otherwise each learns one noise level.
        adversarial_epsilon: fast-gradient-sign step as a fraction of each input's range (0.01 in
            the paper); ``None`` or 0 trains without adversarial examples.
        num_epochs, batch_size, learning_rate, patience: Adam on minibatches per member.

    Example:
        >>> ens = DeepEnsembleRegressor(num_members=5).fit(key, X, y)
        >>> pred = ens.predict(X_new)  # mixture: pred.mean, pred.epistemic_var, pred.nll(y_new)
    """

    heteroscedastic: bool = eqx.field(static=True, default=True)

    def __init__(
        self,
        num_members: int = 5,
        hidden=(50,),
        heteroscedastic: bool = True,
        adversarial_epsilon=None,
        num_epochs: int = 400,
        batch_size: int = 32,
        learning_rate=1e-2,
        patience: int | None = None,
    ):
        self._set(
            "DeepEnsembleRegressor",
            num_members,
            hidden,
            adversarial_epsilon,
            num_epochs,
            batch_size,
            learning_rate,
            patience,
        )
        self.heteroscedastic = bool(heteroscedastic)

    def fit(self, key: jax.Array, X, y, validation=None) -> DeepEnsembleRegressor:
        """Train the ``M`` members on ``(X, y)`` (all at once) and return a fitted copy.

        Args:
            key: a ``jax.random`` key (each member's initial weights and shuffling).
            X: inputs ``(n, d)`` or ``(n,)``; y: targets ``(n,)``.
            validation: ``None``, a fraction to hold out for early stopping, or ``(X_val, y_val)``.
        """
        key = check_key(key, "DeepEnsembleRegressor.fit")
        owner = "DeepEnsembleRegressor"
        X, y = checks.check_regression_data(owner, X, y)
        k_val, k_fit = jax.random.split(key)
        X, y, Xv, yv = carve_validation(k_val, X, y, validation, owner)
        scaling = Scaling.fit(X, y)
        extra = {} if self.heteroscedastic else {"log_noise": jnp.asarray(jnp.log(0.5), X.dtype)}
        params, history = self._fit(
            k_fit, X, y, Xv, yv, scaling, head_size(self.heteroscedastic), False, extra
        )
        return with_fitted(self, params=params, scaling=scaling, history=history)

    def member_predictions(self, X) -> tuple[jax.Array, jax.Array]:
        """Each member's ``(loc, scale)`` at ``X``, shapes ``(M, n)``, in the original units."""
        owner = "DeepEnsembleRegressor"
        checks.check_fitted(owner, self.params)
        X = checks.check_features(owner, X, self.scaling.x_loc.shape[0])
        outs = _member_outputs(self.params, self.scaling.x(X))
        noise = self.params.get("log_noise")
        loc, scale = (
            jax.vmap(gaussian_head)(outs, noise) if noise is not None else jax.vmap(gaussian_head)(outs)
        )
        return loc * self.scaling.y_scale + self.scaling.y_loc, scale * self.scaling.y_scale

    def predict(self, X) -> RegressionPredictive:
        """The uniform mixture of the members' Gaussians at ``X`` (deterministic: no key needed)."""
        return RegressionPredictive(*self.member_predictions(X))

    def nll(self, X, y) -> jax.Array:
        """Mean negative log-likelihood of ``y`` under the mixture (:func:`bayeskit.metrics.mixture_nll`)."""
        loc, scale = self.member_predictions(X)
        return metrics.mixture_nll(as_targets("DeepEnsembleRegressor.nll", y, loc.shape[1]), loc, scale)


class DeepEnsembleClassifier(_Ensemble):
    """Classification with ``M`` softmax networks trained at once; probabilities are averaged.

    Arguments as for :class:`DeepEnsembleRegressor` (no noise head).

    Example:
        >>> ens = DeepEnsembleClassifier(num_members=5).fit(key, X, labels)
        >>> pred = ens.predict(X_new)  # pred.probs, pred.mutual_information
    """

    num_classes: int | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        num_members: int = 5,
        hidden=(50,),
        adversarial_epsilon=None,
        num_epochs: int = 200,
        batch_size: int = 32,
        learning_rate=1e-2,
        patience: int | None = None,
        num_classes: int | None = None,
    ):
        self._set(
            "DeepEnsembleClassifier",
            num_members,
            hidden,
            adversarial_epsilon,
            num_epochs,
            batch_size,
            learning_rate,
            patience,
        )
        self.num_classes = num_classes

    def fit(self, key: jax.Array, X, y, validation=None) -> DeepEnsembleClassifier:
        """Train the ``M`` members on inputs ``X`` and labels ``y`` in ``0..K-1``; return a fitted copy."""
        key = check_key(key, "DeepEnsembleClassifier.fit")
        owner = "DeepEnsembleClassifier"
        X, y, K = checks.check_classification_data(owner, X, y, self.num_classes)
        k_val, k_fit = jax.random.split(key)
        X, y, Xv, yv = carve_validation(k_val, X, y, validation, owner, num_classes=K)
        scaling = Scaling.fit(X)
        params, history = self._fit(k_fit, X, y, Xv, yv, scaling, K, True, {})
        return with_fitted(self, params=params, scaling=scaling, history=history, num_classes=K)

    def predict(self, X) -> ClassificationPredictive:
        """The members' class probabilities at ``X``, shape ``(M, n, K)`` inside the predictive."""
        owner = "DeepEnsembleClassifier"
        checks.check_fitted(owner, self.params)
        X = checks.check_features(owner, X, self.scaling.x_loc.shape[0])
        return ClassificationPredictive(
            jax.nn.softmax(_member_outputs(self.params, self.scaling.x(X)), axis=-1)
        )
