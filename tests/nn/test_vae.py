"""VAE: closed-form KL, the ELBO decomposition, the IWAE bound, training on digits, shapes, errors.

Every compile costs seconds on a busy 2-core machine, so the tests share a few array shapes
(50 test rows, the 297-row test split) and two architectures.
"""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import bayeskit.dist as dist
from bayeskit.datasets import load_digits
from bayeskit.nn import MLP, VAE, ELBOTerms, VAEHistory

NUM_TRAIN = 1500  # the split used for digits in bayeskit: first 1,500 images train, last 297 test
NUM_EPOCHS = 25


@pytest.fixture(scope="module")
def digits():
    X = load_digits().X  # already divided by 16, so in [0, 1]
    return X[:NUM_TRAIN], X[NUM_TRAIN:]


@pytest.fixture(scope="module")
def untrained():
    return VAE(jax.random.key(0), 64, latent_dim=2, hidden=(64, 32))


@pytest.fixture(scope="module")
def gaussian():
    # The same widths as `untrained`, so the two share compiled code.
    return VAE(jax.random.key(4), 64, latent_dim=2, hidden=(64, 32), likelihood="gaussian", min_scale=0.05)


@pytest.fixture(scope="module")
def trained(untrained, digits):
    X_train, X_test = digits
    return untrained.fit(
        jax.random.key(1),
        X_train,
        num_epochs=NUM_EPOCHS,
        batch_size=100,
        optimizer=optax.adam(3e-3),
        X_valid=X_test,
        progress_bar=False,
    )


def test_kl_equals_kl_divergence_and_closed_form(untrained, digits):
    x = digits[1][:50]
    terms = untrained.elbo(jax.random.key(2), x)
    q = untrained.encode(x)
    prior = dist.Normal(jnp.zeros(2), jnp.ones(2)).to_event(1)
    np.testing.assert_allclose(terms.kl, dist.kl_divergence(q, prior), rtol=1e-10, atol=1e-12)
    mu, s = np.asarray(q.base.loc), np.asarray(q.base.scale)
    closed = 0.5 * np.sum(mu**2 + s**2 - 1 - np.log(s**2), axis=-1)
    np.testing.assert_allclose(terms.kl, closed, rtol=1e-10, atol=1e-12)
    assert np.all(closed > 0)


def test_elbo_is_reconstruction_minus_kl_and_reconstruction_is_bernoulli_log_prob(untrained, digits):
    x = (digits[1][:50] > 0.5).astype(float)  # binary, so dist.Bernoulli.log_prob applies
    key = jax.random.key(3)
    terms = untrained.elbo(key, x)
    assert isinstance(terms, ELBOTerms)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, rtol=1e-12)
    # The same draw by hand: z = loc + scale * eps with eps from the key, decoder logits at z.
    q = untrained.encode(x)
    z = q.base.loc + q.base.scale * jax.random.normal(key, (1, 50, 2))[0]
    logits = jax.vmap(untrained.decoder)(z)
    expected = dist.Bernoulli(logits=logits).to_event(1).log_prob(x)
    np.testing.assert_allclose(terms.reconstruction, expected, rtol=1e-10)
    np.testing.assert_allclose(untrained.decode(z), jax.nn.sigmoid(logits), rtol=1e-12)


def test_gaussian_decoder_log_likelihood_is_normal_log_prob(gaussian, digits):
    x = digits[1][:50]
    key = jax.random.key(5)
    terms = gaussian.elbo(key, x)
    q = gaussian.encode(x)
    z = q.base.loc + q.base.scale * jax.random.normal(key, (1, 50, 2))[0]
    expected = dist.Normal(jax.vmap(gaussian.decoder)(z), gaussian.decoder_scale).to_event(1).log_prob(x)
    np.testing.assert_allclose(terms.reconstruction, expected, rtol=1e-10)
    np.testing.assert_allclose(gaussian.decoder_scale, 1.05)  # min_scale + exp(0) at the start


def test_elbo_below_iwae(trained, digits):
    vae, _ = trained
    x = digits[1]
    key = jax.random.key(6)
    # With one key both use the same 50 draws of z, so the reconstruction noise cancels and the
    # gap is log-mean-exp minus mean of the log weights (>= 0 by Jensen) plus a zero-mean term.
    elbo = np.asarray(vae.elbo(key, x, num_samples=50).elbo)
    iwae_50 = np.asarray(vae.iwae_log_likelihood(key, x, num_importance=50))
    assert iwae_50.shape == (x.shape[0],)
    gap = iwae_50 - elbo
    assert gap.mean() > 4 * gap.std(ddof=1) / np.sqrt(gap.size), (gap.mean(), gap.std())
    # With the next test (E[IWAE, K=1] = ELBO) this shows the bound rising with K.


def test_iwae_with_one_sample_is_the_elbo_in_expectation(trained, digits):
    vae, _ = trained
    x = jnp.broadcast_to(jnp.asarray(digits[1][:50]), (200, 50, 64))  # 200 independent draws each
    # The same key gives both the same draw of z, so the reconstruction terms cancel and
    # iwae_1 - elbo = log p(z) - log q(z | x) + KL(q || p), whose mean is exactly zero.
    same = np.asarray(vae.iwae_log_likelihood(jax.random.key(9), x, num_importance=1)) - np.asarray(
        vae.elbo(jax.random.key(9), x).elbo
    )
    assert same.shape == (200, 50)  # any leading batch shape
    se = same.std(axis=0, ddof=1) / np.sqrt(same.shape[0])
    assert np.all(np.abs(same.mean(axis=0)) < 5 * se), np.abs(same.mean(axis=0)) / se
    # Independent keys: the two estimators of the same expectation agree within their errors.
    a = np.asarray(vae.iwae_log_likelihood(jax.random.key(10), x, num_importance=1)).ravel()
    b = np.asarray(vae.elbo(jax.random.key(11), x).elbo).ravel()
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) < 5 * se, (a.mean(), b.mean(), se)


def test_iwae_draws_do_not_depend_on_chunk_size(trained, digits):
    vae, _ = trained
    x = digits[1]
    a = vae.iwae_log_likelihood(jax.random.key(11), x, num_importance=50, chunk_size=25)
    b = vae.iwae_log_likelihood(jax.random.key(11), x, num_importance=50, chunk_size=50)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_training_raises_the_test_elbo(untrained, trained, digits):
    vae, history = trained
    X_test = digits[1]
    before = float(jnp.mean(untrained.elbo(jax.random.key(12), X_test, num_samples=50).elbo))
    after = float(jnp.mean(vae.elbo(jax.random.key(12), X_test, num_samples=50).elbo))
    # Untrained: logits near 0, about -64 log 2 = -44 nats; 25 short epochs reach about -27.
    assert before < -40
    assert after > before + 12, (before, after)
    assert isinstance(history, VAEHistory)
    assert history.train_elbo.shape == (NUM_EPOCHS,) and history.valid_elbo.shape == (NUM_EPOCHS,)
    np.testing.assert_allclose(
        history.train_elbo, history.train_reconstruction - history.train_kl, rtol=1e-10
    )
    assert history.train_elbo[-1] > history.train_elbo[0] + 5
    assert history.valid_elbo[-1] > history.valid_elbo[0]
    assert history.fit_time > 0
    # fit returned a new model and left the old one as it was.
    assert not np.allclose(vae.encoder.layers[0][0], untrained.encoder.layers[0][0])
    fresh = VAE(jax.random.key(0), 64, latent_dim=2, hidden=(64, 32))
    np.testing.assert_array_equal(untrained.encoder.layers[0][0], fresh.encoder.layers[0][0])


def test_fit_with_default_adam_is_reproducible_and_learns_the_decoder_scale(gaussian, digits):
    X = digits[0][:320]
    a, ha = gaussian.fit(jax.random.key(14), X, num_epochs=3, batch_size=64, learning_rate=1e-2)
    b, hb = gaussian.fit(
        jax.random.key(14), X, num_epochs=3, batch_size=64, learning_rate=1e-2, progress_bar=False
    )
    np.testing.assert_array_equal(ha.train_elbo, hb.train_elbo)
    assert ha.valid_elbo is None and np.all(np.isfinite(ha.train_elbo))
    assert np.all(np.asarray(a.decoder_scale) >= a.min_scale * np.asarray(a.scaling.x_scale))
    assert not np.array_equal(a.log_scale, gaussian.log_scale)  # the decoder scale is learned
    # The learning rate is data in the optimiser state: another rate, another trajectory.
    c, hc = gaussian.fit(jax.random.key(14), X, num_epochs=3, batch_size=64, progress_bar=False)
    assert not np.array_equal(hc.train_elbo, ha.train_elbo)


def test_gaussian_fit_standardises_and_works_in_the_data_units(gaussian, digits):
    X, x = digits[0][:320], digits[1][:50]
    fit = lambda data, **kw: gaussian.fit(  # noqa: E731
        jax.random.key(14), data, num_epochs=3, batch_size=64, learning_rate=1e-2, progress_bar=False, **kw
    )
    a, _ = fit(X)
    sd = np.std(X, axis=0)
    np.testing.assert_allclose(a.scaling.x_loc, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(a.scaling.x_scale, np.where(sd > 0, sd, 1.0), rtol=1e-12)
    # The reconstruction term is the Normal log density of x in its own units.
    key = jax.random.key(5)
    terms = a.elbo(key, x)
    q = a.encode(x)
    z = q.base.loc + q.base.scale * jax.random.normal(key, (1, 50, 2))[0]
    expected = dist.Normal(a.decode(z), a.decoder_scale).to_event(1).log_prob(x)
    np.testing.assert_allclose(terms.reconstruction, expected, rtol=1e-10)
    # Units do not matter: the same digits in other units train identically, and the ELBO moves
    # by the log-Jacobian of the change of units on the features that vary.
    c, b0 = 250.0, 40.0
    raw, _ = fit(X * c + b0)
    shift = np.sum(sd > 0) * np.log(c)
    np.testing.assert_allclose(raw.elbo(key, x * c + b0).elbo, terms.elbo - shift, rtol=1e-8)
    varies = sd > 0  # a constant feature keeps scale 1, so only its location moves
    np.testing.assert_allclose(raw.decode(z)[..., varies], a.decode(z)[..., varies] * c + b0, rtol=1e-8)
    np.testing.assert_allclose(raw.decode(z)[..., ~varies], a.decode(z)[..., ~varies] + b0, rtol=1e-8)
    # Without standardising, raw units are far worse (the networks start at order one).
    plain, _ = fit(X * c + b0, standardize=False)
    assert plain.scaling is None
    assert float(plain.elbo(key, x * c + b0).elbo.mean()) < float(raw.elbo(key, x * c + b0).elbo.mean()) - 100
    # Training on keeps the first fit's scaling.
    again, _ = a.fit(jax.random.key(3), X[:64] * 3, num_epochs=1, batch_size=64, progress_bar=False)
    np.testing.assert_array_equal(again.scaling.x_loc, a.scaling.x_loc)
    # The scaling is not trained: only the networks and the decoder scale move.
    np.testing.assert_array_equal(again.scaling.x_scale, a.scaling.x_scale)


def test_standardize_errors(untrained, gaussian, digits):
    X = digits[0][:64]
    with pytest.raises(ValueError, match="`standardize=True` needs likelihood='gaussian'"):
        untrained.fit(jax.random.key(0), X, num_epochs=1, batch_size=64, progress_bar=False, standardize=True)
    with pytest.raises(ValueError, match="`standardize` must be True, False or None"):
        gaussian.fit(jax.random.key(0), X, num_epochs=1, batch_size=64, progress_bar=False, standardize="yes")


def test_shapes(trained, digits):
    vae, _ = trained
    x = digits[1][:50]
    assert vae.sample(jax.random.key(15), 50).shape == (50, 64)
    rec = vae.reconstruct(jax.random.key(16), x)
    assert rec.shape == (50, 64) and float(rec.min()) >= 0 and float(rec.max()) <= 1
    q = vae.encode(x)
    assert q.batch_shape == (50,) and q.event_shape == (2,)
    assert vae.decode(q.mean.reshape(5, 10, 2)).shape == (5, 10, 64)


def test_elbo_under_jit_equals_eager(trained, digits):
    vae, _ = trained
    x = jnp.asarray(digits[1][:50])
    key = jax.random.key(19)
    jitted = eqx.filter_jit(lambda v, k, x: v.elbo(k, x).elbo)(vae, key, x)
    np.testing.assert_allclose(jitted, vae.elbo(key, x).elbo, rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_vae_trains(dtype):
    # Adam's constants were stored in the parameters' dtype: bfloat16 rounds b2 = 0.999 to 1 and
    # float16 rounds eps = 1e-8 to 0, so the first update was NaN and fit stopped after epoch 0.
    X = jax.random.normal(jax.random.key(3), (64, 3)) * 2.0 + 1.0
    vae = VAE(jax.random.key(4), 3, hidden=(8,), likelihood="gaussian", dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (A step of the default 1e-3 is below bfloat16's resolution of weights near 0.5.)
        fitted, history = vae.fit(
            jax.random.key(5), X.astype(dtype), num_epochs=5, batch_size=16, learning_rate=0.02
        )
    assert history.train_elbo.shape == (5,) and np.all(np.isfinite(history.train_elbo))
    assert fitted.dtype == dtype and history.train_elbo[-1] > history.train_elbo[0]


def test_mlp_widths_and_errors():
    net = MLP(jax.random.key(20), 64, 4, hidden=(64, 32))  # the VAE encoder's widths: compiled once
    assert [w.shape for w, _ in net.layers] == [(64, 64), (32, 64), (4, 32)]
    assert net(jnp.ones(64)).shape == (4,) and net.in_size == 64 and net.out_size == 4
    w, b = net.layers[1]
    bound = 1 / np.sqrt(64)
    assert float(jnp.max(jnp.abs(w))) <= bound and float(jnp.max(jnp.abs(b))) <= bound
    assert float(jnp.max(jnp.abs(w))) > 0.9 * bound  # uniform on the whole interval
    with pytest.raises(ValueError, match="`hidden`"):
        MLP(jax.random.key(20), 5, 3, hidden=(8, 0))
    with pytest.raises(ValueError, match="`in_size`"):
        MLP(jax.random.key(20), 0, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latent_dim": 0}, "`latent_dim`"),
        ({"num_features": 0}, "`num_features`"),
        ({"hidden": (32, -1)}, "`hidden`"),
        ({"likelihood": "poisson"}, "`likelihood`"),
        ({"min_scale": 0.0}, "`min_scale`"),
    ],
)
def test_constructor_errors(kwargs, match):
    args = {"num_features": 64, **kwargs}
    with pytest.raises(ValueError, match=match):
        VAE(jax.random.key(0), **args)


def test_bad_input_errors(untrained, gaussian, digits):
    X_train, X_test = digits
    key = jax.random.key(21)
    with_nan = X_test[:50].copy()
    with_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="`x` contains 1 NaN"):
        untrained.elbo(key, with_nan)
    with pytest.raises(TypeError, match="VAE.elbo: `key` must be one JAX random key"):
        untrained.elbo(0, X_test[:5])
    with pytest.raises(ValueError, match=r"`X_train` contains .*NaN"):
        untrained.fit(key, with_nan, num_epochs=1, batch_size=5, progress_bar=False)
    with pytest.raises(ValueError, match=r"`x` has values in \[0, 16\].*\[0, 1\]"):
        untrained.encode(X_test * 16)
    with pytest.raises(ValueError, match=r"`X_valid` has values"):
        untrained.fit(key, X_train, num_epochs=1, X_valid=X_test - 0.5, progress_bar=False)
    # The Gaussian decoder accepts any real values.
    assert np.all(np.isfinite(gaussian.elbo(key, X_test[:50] * 16 - 3).elbo))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 64\)"):
        untrained.iwae_log_likelihood(key, X_test[:, :10])
    with pytest.raises(ValueError, match=r"`X_train` must have shape \(\.\.\., 64\)"):
        untrained.fit(key, X_train[:, :63], num_epochs=1, progress_bar=False)
    with pytest.raises(ValueError, match="`X_train` must be a 2-D"):
        untrained.fit(key, X_train[0], num_epochs=1, progress_bar=False)
    with pytest.raises(ValueError, match="`z` must have shape"):
        untrained.decode(jnp.zeros((3, 5)))
    for bad in (0, 1501, 2.5):
        with pytest.raises(ValueError, match="`batch_size`"):
            untrained.fit(key, X_train, num_epochs=1, batch_size=bad, progress_bar=False)
    with pytest.raises(ValueError, match="`num_epochs`"):
        untrained.fit(key, X_train, num_epochs=0, progress_bar=False)
    with pytest.raises(ValueError, match="`learning_rate`"):
        untrained.fit(key, X_train, num_epochs=1, learning_rate=-1.0, progress_bar=False)
    with pytest.raises(ValueError, match="`optimizer`"):
        untrained.fit(key, X_train, num_epochs=1, optimizer="adam", progress_bar=False)
    with pytest.raises(ValueError, match="`num_importance`"):
        untrained.iwae_log_likelihood(key, X_test, num_importance=0)
    with pytest.raises(ValueError, match="`num_samples`"):
        untrained.sample(key, 0)
    with pytest.raises(ValueError, match="`num_samples`"):
        untrained.elbo(key, X_test, num_samples=0)
    with pytest.raises(ValueError, match="`x` has no rows"):
        untrained.elbo(key, np.zeros((0, 64)))
