"""Bayesian deep learning: exact identities, the behaviour in a data gap, and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayeskit.dist as dist
from bayeskit import metrics
from bayeskit.nn._standardize import Scaling
from bayeskit.nn.bayes_by_backprop import BayesByBackpropRegressor
from bayeskit.nn.deep_ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor
from bayeskit.nn.mc_dropout import MCDropoutClassifier, MCDropoutRegressor
from bayeskit.nn.networks import dense_forward, init_dense
from bayeskit.nn.nuts_bnn import NUTSBNNRegressor
from bayeskit.nn.predictive import ClassificationPredictive, RegressionPredictive
from bayeskit.nn.training import train

HIDDEN = (32, 32)
EPOCHS = 300


def _truth(x):
    return 0.5 * x + jnp.sin(x)


@pytest.fixture(scope="module")
def gap_data():
    # Two clusters with a gap in (-1, 1); the clusters differ in size, so the gap is not at the
    # origin of the standardised inputs (where every input-dropout mask gives the same value).
    x = jnp.concatenate([jnp.linspace(-4.0, -1.0, 60), jnp.linspace(1.0, 2.0, 20)])
    y = _truth(x) + 0.1 * jax.random.normal(jax.random.key(1), x.shape)
    return x, y


@pytest.fixture(scope="module")
def fitted(gap_data):
    x, y = gap_data
    key = jax.random.key(0)
    return {
        "mc_dropout": MCDropoutRegressor(HIDDEN, dropout_rate=0.1, num_epochs=EPOCHS, num_passes=200).fit(
            key, x, y
        ),
        "bayes_by_backprop": BayesByBackpropRegressor(HIDDEN, num_epochs=EPOCHS).fit(key, x, y),
        "deep_ensemble": DeepEnsembleRegressor(5, HIDDEN, num_epochs=EPOCHS).fit(key, x, y),
    }


# -- exact identities ------------------------------------------------------------------------


def test_law_of_total_variance_is_exact():
    k1, k2 = jax.random.split(jax.random.key(2))
    loc = jax.random.normal(k1, (7, 11))
    scale = jnp.exp(0.3 * jax.random.normal(k2, (7, 11)))
    pred = RegressionPredictive(loc, scale)
    # The mixture's variance from its raw moments, E[y^2] - E[y]^2.
    second = np.mean(np.asarray(scale) ** 2 + np.asarray(loc) ** 2, axis=0)
    mixture_var = second - np.mean(np.asarray(loc), axis=0) ** 2
    np.testing.assert_allclose(pred.total_var, mixture_var, rtol=1e-12)
    np.testing.assert_allclose(pred.total_var, pred.aleatoric_var + pred.epistemic_var, rtol=1e-14)
    np.testing.assert_allclose(pred.epistemic_var, np.var(np.asarray(loc), axis=0), rtol=1e-12)
    np.testing.assert_allclose(pred.aleatoric_var, np.mean(np.asarray(scale) ** 2, axis=0), rtol=1e-12)
    assert pred.samples.shape == (7, 11)
    assert pred.sample(jax.random.key(3), 5).shape == (5, 11)


def test_mc_dropout_weight_decay_follows_gal_and_ghahramani():
    p, tau, l, N = 0.2, 4.0, 0.5, 100
    model = MCDropoutRegressor(hidden=(8,), dropout_rate=p, tau=tau, lengthscale=l)
    assert model.weight_decay(N) == pytest.approx(l**2 * (1 - p) / (2 * N * tau), rel=1e-12)
    # The objective used in training is tau * (MSE / 2 + lambda ||W||^2) plus the Gaussian constant.
    X = jax.random.normal(jax.random.key(4), (N, 3))
    y = X[:, 0] + 0.1 * jax.random.normal(jax.random.key(5), (N,))
    scaling = Scaling.fit(X, y)
    params = {"layers": init_dense(jax.random.key(6), (3, 8, 1))}
    key = jax.random.key(7)
    Xs, ys = scaling.x(X), scaling.y(y)
    objective = model.objective(key, params, Xs, ys, N, scaling)
    f = dense_forward(params["layers"], Xs, key, p)[:, 0]
    tau_std = tau * scaling.y_scale**2
    lam = model.weight_decay(N, scaling.y_scale)
    norm = sum(jnp.sum(W**2) for W, _ in params["layers"])
    expected = tau_std * (0.5 * jnp.mean((ys - f) ** 2) + lam * norm) + 0.5 * jnp.log(2 * jnp.pi / tau_std)
    np.testing.assert_allclose(objective, expected, rtol=1e-12)


def test_mc_dropout_without_input_dropout_keeps_the_data_and_its_decay():
    """``drop_inputs=False``: no mask on X, and the first layer's decay uses p = 0 (l^2 / 2N)."""
    p, tau, l, N = 0.3, 4.0, 0.5, 50
    model = MCDropoutRegressor(hidden=(8,), dropout_rate=p, tau=tau, lengthscale=l, drop_inputs=False)
    X = jax.random.normal(jax.random.key(4), (N, 1))
    y = jnp.sin(X[:, 0])
    scaling = Scaling.fit(X, y)
    params = {"layers": init_dense(jax.random.key(6), (1, 8, 1))}
    key = jax.random.key(7)
    Xs, ys = scaling.x(X), scaling.y(y)
    (W0, b0), (W1, b1) = params["layers"]
    # The same key drops the same hidden units whether or not the inputs are spared.
    hidden_mask = dense_forward(params["layers"], Xs, key, p, drop_input=False)
    k0, k1 = jax.random.split(key)
    h = jax.nn.relu(Xs @ W0 + b0)
    kept = jax.random.bernoulli(k1, 1 - p, h.shape)
    np.testing.assert_allclose(hidden_mask, (jnp.where(kept, h / (1 - p), 0.0)) @ W1 + b1, rtol=1e-12)
    objective = model.objective(key, params, Xs, ys, N, scaling)
    f = hidden_mask[:, 0]
    tau_std = tau * scaling.y_scale**2
    penalty = l**2 / (2 * N) * jnp.sum(W0**2) + l**2 * (1 - p) / (2 * N) * jnp.sum(W1**2)
    expected = 0.5 * jnp.log(2 * jnp.pi / tau_std) + tau_std * 0.5 * jnp.mean((ys - f) ** 2) + penalty
    np.testing.assert_allclose(objective, expected, rtol=1e-12)
    fitted = model.fit(jax.random.key(8), X, y)
    assert fitted.drop_inputs is False and fitted.predict(X[:3]).mean.shape == (3,)


def test_bayes_by_backprop_kl_equals_closed_form():
    model = BayesByBackpropRegressor(hidden=(5,), prior_scale=0.7, init_scale=0.3)
    params = model.init_params(jax.random.key(8), 2, jnp.float64)
    # Perturb the scales so that every weight has its own.
    params["layers"] = tuple(
        (mw, rw + 0.1 * jax.random.normal(jax.random.key(i), rw.shape), mb, rb)
        for i, (mw, rw, mb, rb) in enumerate(params["layers"])
    )
    prior = dist.Normal(0.0, 0.7)
    expected = 0.0
    for mw, rw, mb, rb in params["layers"]:
        for loc, rho in ((mw, rw), (mb, rb)):
            expected += jnp.sum(dist.kl_divergence(dist.Normal(loc, jax.nn.softplus(rho)), prior))
    np.testing.assert_allclose(model.kl(params), expected, rtol=1e-12)


def test_ensemble_mixture_nll_equals_metrics(fitted, gap_data):
    x, y = gap_data
    ens = fitted["deep_ensemble"]
    loc, scale = ens.member_predictions(x)
    assert loc.shape == (5, x.shape[0])
    expected = metrics.mixture_nll(y, loc, scale)
    np.testing.assert_allclose(ens.nll(x, y), expected, rtol=1e-12)
    np.testing.assert_allclose(ens.predict(x).nll(y), expected, rtol=1e-12)
    # ... and a direct log-sum-exp.
    logpdf = -0.5 * np.log(2 * np.pi * np.asarray(scale) ** 2) - 0.5 * ((np.asarray(y) - loc) / scale) ** 2
    direct = -np.mean(np.logaddexp.reduce(logpdf, axis=0) - math.log(5))
    np.testing.assert_allclose(expected, direct, rtol=1e-10)


# -- behaviour ---------------------------------------------------------------------------------

GAP = jnp.linspace(-0.4, 0.4, 9)


@pytest.mark.parametrize("method", ["mc_dropout", "bayes_by_backprop", "deep_ensemble"])
def test_epistemic_variance_larger_in_the_gap(fitted, gap_data, method):
    x, y = gap_data
    pred = fitted[method].predict(jnp.concatenate([GAP, x]))  # one call: one compiled shape
    var = pred.epistemic_var
    in_gap, near = float(jnp.mean(var[: GAP.shape[0]])), float(jnp.median(var[GAP.shape[0] :]))
    assert in_gap > 1.2 * near, f"{method}: epistemic var in the gap {in_gap:.4g} vs near the data {near:.4g}"
    rmse = float(metrics.rmse(y, pred.mean[GAP.shape[0] :]))
    assert rmse < 0.3, f"{method} did not fit the data (RMSE {rmse:.3f})"


def _blobs(n=60):
    k1, k2 = jax.random.split(jax.random.key(9))
    X = jnp.concatenate(
        [jax.random.normal(k1, (n, 2)) * 0.5 + 1.5, jax.random.normal(k2, (n, 2)) * 0.5 - 1.5]
    )
    y = jnp.concatenate([jnp.zeros(n, jnp.int32), jnp.ones(n, jnp.int32)])
    return X, y


OFF = jnp.array([[6.0, -6.0], [-6.0, 6.0], [8.0, -7.0], [-7.0, 8.0]])  # far along the class boundary


def _check_classifier(pred_in: ClassificationPredictive, pred_off: ClassificationPredictive):
    for pred in (pred_in, pred_off):
        assert bool(jnp.all(pred.mutual_information >= 0.0))
        np.testing.assert_allclose(
            pred.predictive_entropy, pred.expected_entropy + pred.mutual_information, atol=1e-12
        )
    assert float(jnp.mean(pred_off.mutual_information)) > 2.0 * float(jnp.mean(pred_in.mutual_information))


def test_ensemble_classifier_mutual_information():
    X, y = _blobs()
    clf = DeepEnsembleClassifier(5, hidden=(16,), num_epochs=100).fit(jax.random.key(10), X, y)
    pred = clf.predict(X)
    assert float(metrics.accuracy(y, pred.probs)) > 0.95
    _check_classifier(pred, clf.predict(OFF))


@pytest.mark.slow
def test_mc_dropout_classifier_mutual_information():
    X, y = _blobs()
    clf = MCDropoutClassifier(hidden=(32,), dropout_rate=0.2, num_epochs=100).fit(jax.random.key(11), X, y)
    _check_classifier(clf.predict(X), clf.predict(OFF))


@pytest.mark.slow
def test_nuts_bnn_epistemic_variance_larger_in_the_gap(gap_data):
    x, y = gap_data
    bnn = NUTSBNNRegressor((10,), num_chains=2, num_warmup=300, num_samples=150).fit(jax.random.key(12), x, y)
    assert float(jnp.mean(bnn.predict(GAP).epistemic_var)) > 1.2 * float(
        jnp.median(bnn.predict(x).epistemic_var)
    )


def test_train_early_stopping_keeps_the_best_parameters():
    X = jax.random.normal(jax.random.key(13), (64, 2))
    y = X @ jnp.array([1.0, -2.0])

    def loss(key, w, Xb, yb):
        return jnp.mean((Xb @ w - yb) ** 2)

    w, hist = train(
        jax.random.key(14), jnp.zeros(2), loss, X, y, num_epochs=200, learning_rate=0.1,
        validation=(X[:16], y[:16]), val_fn=loss, patience=5, chunk_epochs=20,
    )  # fmt: skip
    best = int(hist.best_epoch)
    assert int(hist.num_epochs_run) < 200 and best == int(jnp.nanargmin(hist.val_loss))
    np.testing.assert_allclose(loss(None, w, X[:16], y[:16]), hist.val_loss[best], rtol=1e-12)
    np.testing.assert_allclose(w, [1.0, -2.0], atol=0.1)

    # A validation loss that is never finite chose nothing: fit returned the initial weights.
    with pytest.raises(FloatingPointError, match="validation loss was NaN or infinite at every epoch"):
        train(
            jax.random.key(14), jnp.zeros(2), loss, X, y, num_epochs=3, learning_rate=0.1,
            validation=(X[:16], y[:16]), val_fn=lambda *a: jnp.nan * loss(*a),
        )  # fmt: skip
    with pytest.raises(ValueError, match="`chunk_epochs` must be an integer >= 1"):
        train(jax.random.key(14), jnp.zeros(2), loss, X, y, num_epochs=3, chunk_epochs=0)
    with pytest.raises(ValueError, match="`params` must be a pytree of floating-point arrays"):
        train(jax.random.key(14), jnp.zeros(2, int), loss, X, y, num_epochs=3)


def test_train_float32_parameters_on_float64_data():
    # Under x64 the float32 parameters met float64 data (the best validation loss) and optax's
    # float64 b1/b2 (mixed-dtype parameters): the epoch's scan raised a raw carry-type error.
    X = jax.random.normal(jax.random.key(15), (64, 2))
    y = X @ jnp.array([1.0, -2.0]) + 0.5

    def loss(key, p, Xb, yb):
        return jnp.mean((Xb @ p["w"] + p["b"] - yb) ** 2)

    options = dict(num_epochs=60, learning_rate=0.1, validation=(X[:16], y[:16]), val_fn=loss, patience=5)
    ref, _ = train(jax.random.key(16), {"w": jnp.zeros(2), "b": jnp.zeros(())}, loss, X, y, **options)
    for start in ({"w": jnp.zeros(2, jnp.float32), "b": jnp.zeros((), jnp.float32)},
                  {"w": jnp.zeros(2, jnp.float32), "b": jnp.zeros(())}):  # fmt: skip
        p, hist = train(jax.random.key(16), start, loss, X, y, **options)
        assert p["w"].dtype == jnp.float32 and p["b"].dtype == start["b"].dtype
        np.testing.assert_allclose(p["w"], ref["w"], atol=1e-4)
        np.testing.assert_allclose(p["b"], ref["b"], atol=1e-4)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_train_half_precision_parameters(dtype):
    # bfloat16 rounded Adam's b2 = 0.999 to 1 (a zero bias correction): NaN from the first step.
    X = jax.random.normal(jax.random.key(17), (64, 2))
    y = X @ jnp.array([1.0, -2.0])

    def loss(key, w, Xb, yb):
        return jnp.mean((Xb @ w - yb) ** 2)

    w, hist = train(jax.random.key(18), jnp.zeros(2, dtype), loss, X, y, num_epochs=40, learning_rate=0.1)
    assert w.dtype == dtype and np.all(np.isfinite(np.asarray(hist.train_loss)))
    np.testing.assert_allclose(np.asarray(w, np.float32), [1.0, -2.0], atol=0.1)
    # Python numbers as parameters were a raw AttributeError on `.dtype`.
    p, _ = train(
        jax.random.key(18), {"b": 0.0}, lambda k, p, Xb, yb: jnp.mean((p["b"] - yb) ** 2), X, y, num_epochs=2
    )
    assert np.isfinite(float(p["b"]))


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MCDropoutRegressor(dropout_rate=0.0), "dropout_rate"),
        (lambda: MCDropoutRegressor(dropout_rate=1.0), "dropout_rate"),
        (lambda: MCDropoutClassifier(dropout_rate=-0.1), "dropout_rate"),
        (lambda: DeepEnsembleRegressor(num_members=1), "num_members"),
        (lambda: DeepEnsembleClassifier(num_members=0), "num_members"),
        (lambda: BayesByBackpropRegressor(prior_scale=0.0), "prior_scale"),
        (lambda: MCDropoutRegressor(tau=-1.0), "tau"),
        (lambda: MCDropoutRegressor(drop_inputs="no"), "drop_inputs"),
        (lambda: MCDropoutClassifier(drop_inputs=None), "drop_inputs"),
        (lambda: MCDropoutRegressor(patience=0), "MCDropoutRegressor: `patience`"),
        (lambda: DeepEnsembleRegressor(patience=0), "DeepEnsembleRegressor: `patience`"),
        (lambda: BayesByBackpropRegressor(patience=0), "BayesByBackpropRegressor: `patience`"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


ESTIMATORS = [
    MCDropoutRegressor(num_epochs=1),
    BayesByBackpropRegressor(num_epochs=1),
    DeepEnsembleRegressor(2, num_epochs=1),
    NUTSBNNRegressor(num_warmup=1, num_samples=1),
]


@pytest.mark.parametrize("model", ESTIMATORS, ids=lambda m: type(m).__name__)
def test_bad_data(model):
    key = jax.random.key(0)
    X, y = np.ones((10, 2)), np.ones(10)
    with pytest.raises(ValueError, match="`X`.*NaN or infinite"):
        model.fit(key, np.where(np.eye(10, 2) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="`y`.*NaN or infinite"):
        model.fit(key, X, np.r_[y[:-1], np.inf])
    with pytest.raises(ValueError, match="`X` has 10 rows but `y` has 9"):
        model.fit(key, X, y[:9])
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(X)


@pytest.mark.parametrize(
    "model", [MCDropoutClassifier(), DeepEnsembleClassifier()], ids=lambda m: type(m).__name__
)
def test_bad_classification_data(model):
    key = jax.random.key(0)
    X = np.ones((6, 2))
    with pytest.raises(
        ValueError, match=r"`y` must hold class labels .* 1 entry is not \(first: 0.5 at index 2\)"
    ):
        model.fit(key, X, np.array([0, 1, 0.5, 1, 0, 1]))
    with pytest.raises(ValueError, match="`X` has 6 rows but `y` has 5"):
        model.fit(key, X, np.array([0, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(X)
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="`y` must hold numbers, got dtype <U1"):
        model.fit(key, X, np.array(list("abcabc")))
    with pytest.raises(ValueError, match=r"`y` holds only class 1 \(all 6 labels\)"):
        model.fit(key, X, np.ones(6, int))  # was trained to say 1 everywhere, without a word
    # A validation set is checked like the training data: out-of-range labels or NaN inputs
    # gave a NaN validation loss that never improved, and fit returned the initial weights.
    with pytest.raises(ValueError, match="`y_val` has label 6 but `num_classes` is 2"):
        model.fit(key, X, y, validation=(X[:2], np.array([0, 6])))
    with pytest.raises(ValueError, match="`X_val`.*NaN or infinite"):
        model.fit(key, X, y, validation=[np.full((2, 2), np.nan), y[:2]])
    with pytest.raises(ValueError, match="`X_val` has 3 column\\(s\\) but `X` has 2"):
        model.fit(key, X, y, validation=(np.ones((2, 3)), y[:2]))


def test_labels_must_count_from_zero():
    from bayeskit.nn._bdl_checks import check_classification_data

    with pytest.warns(UserWarning, match="`y` has no label 0: the model will have 4 classes"):
        _, _, K = check_classification_data("C", np.ones((3, 1)), np.array([1, 2, 3]))
    assert K == 4
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 2, got 1"):
        check_classification_data("C", np.ones((3, 1)), np.zeros(3), num_classes=1)


def test_predict_options_and_nll_targets_are_checked(fitted):
    model, X = fitted["mc_dropout"], np.linspace(-1.0, 1.0, 5)
    with pytest.raises(ValueError, match="`num_passes` must be an integer >= 1, got 0"):
        model.predict(X, num_passes=0)  # was silently the default
    with pytest.raises(TypeError, match="MCDropoutRegressor.predict: `key` must be one JAX random key"):
        model.predict(X, key=0)
    pred = model.predict(X)
    np.testing.assert_allclose(pred.nll(np.zeros((5, 1))), pred.nll(np.zeros(5)))  # a column, as fit takes
    with pytest.raises(ValueError, match="one target per predicted point"):
        pred.nll(np.zeros(4))
    with pytest.raises(
        TypeError, match="`X` must hold numbers, got a JAX random key; is it in the key.s place"
    ):
        model.predict(jax.random.key(0), X)  # predict(X, key=...), unlike fit(key, X, y)


def test_predict_checks_the_number_of_features(fitted):
    with pytest.raises(ValueError, match="`X` has 2 column"):
        fitted["deep_ensemble"].predict(np.ones((3, 2)))
    two_features = MCDropoutRegressor((4,), num_epochs=1).fit(jax.random.key(0), np.ones((8, 2)), np.ones(8))
    with pytest.raises(ValueError, match=r"A 1-D `X` is read as one feature of 2 points; .*shape \(1, 2\)"):
        two_features.predict(np.ones(2))  # one point with two features, given 1-D
