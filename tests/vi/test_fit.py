"""bayeskit.vi, the driver and guides: minibatches, custom guides, MAP, posterior draws, and the
promised errors. Fixture ``nn`` (Normal-Normal with its exact posterior): conftest.py.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import bayeskit.dist as dist
from bayeskit import vi
from bayeskit.conjugate import NormalNormal
from bayeskit.dist import constraints
from bayeskit.ppl import predictive, target

NOISE = 0.5


def _fit(key, t, **kw):
    kw.setdefault("progress_bar", False)
    return vi.fit(jax.random.key(key), t, **kw)


def coin(m, y):
    k = m.sample("k", dist.Bernoulli(probs=0.3))
    with m.plate("data", y.shape[0]):
        m.sample("y", dist.Normal(2.0 * k, 1.0), obs=y)


# ----------------------------------------------------------------------------------- minibatches
def subsampled(m, y, batch):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    with m.plate("data", y.shape[0], subsample_size=batch) as idx:
        m.sample("y", dist.Normal(mu, NOISE), obs=y[idx])


def test_minibatch_elbo_is_unbiased_and_minibatch_fit_finds_the_posterior():
    y = 1.0 + NOISE * jax.random.normal(jax.random.key(6), (200,))
    t = target(subsampled, y, 20)
    # At a fixed point the minibatch log joint averages to the full-data one (a Target scores all).
    point = vi.PointMassGuide(jnp.array([0.7]))
    est = vi.elbo_estimator(t, point, estimator="reparam", minibatch=True)
    values = jax.jit(jax.vmap(lambda k: est.value_fn(k, point).elbo))(
        jax.random.split(jax.random.key(7), 4000)
    )
    full = float(t.log_prior_fn(point.loc) + t.log_likelihood_fn(point.loc))
    assert abs(values.mean() - full) < 4 * values.std() / np.sqrt(values.size)
    assert values.std() > 1.0  # the minibatches really differ

    result = _fit(1, t, guide="meanfield", init="zero", num_steps=2000, num_particles=2, tol=None)
    assert result.info["minibatch"]
    exact = NormalNormal(0.0, 1.0, NOISE).update(y)
    sd = float(exact.scale)
    # Minibatch gradients are noisy (each step sees a tenth of the data), so the final iterate
    # wanders by a fraction of a posterior sd; the optimum it wanders around is the posterior's.
    assert abs(float(result.guide.loc[0]) - float(exact.loc)) < 0.5 * sd
    assert 0.7 < float(result.guide.scale[0]) / sd < 1.3


def hierarchical(m, y, batch):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    with m.plate("groups", y.shape[0], subsample_size=batch) as idx:
        theta = m.sample("theta", dist.Normal(mu, 1.0))
        m.sample("y", dist.Normal(theta, NOISE), obs=y[idx])


def hierarchical_guide(m, y, batch):
    m.sample("mu", dist.Normal(m.param("mu_loc", 0.2), m.param("mu_scale", 0.3, constraints.positive)))
    # Different initial values per group, so that pairing a group's draw with another group's
    # data would show (as a biased ELBO).
    loc = m.param("theta_loc", y)
    scale = m.param("theta_scale", 0.2 + 0.05 * jnp.arange(y.shape[0]), constraints.positive)
    with m.plate("groups", y.shape[0], subsample_size=batch) as idx:
        m.sample("theta", dist.Normal(loc[idx], scale[idx]))


def test_local_latents_in_a_subsampled_plate_share_the_minibatch():
    # Guide and model draw the same minibatch of groups (same key, same plate name): the minibatch
    # ELBO of a custom guide with per-group latents is unbiased for the full-data ELBO.
    y = jnp.linspace(-1.0, 2.0, 12)
    t = target(hierarchical, y, 4)
    q = vi.custom_guide(jax.random.key(0), hierarchical_guide, t)
    keys = jax.random.split(jax.random.key(1), 4000)
    values = {}
    for minibatch in (True, False):
        est = vi.elbo_estimator(t, q, estimator="reparam", minibatch=minibatch)
        values[minibatch] = np.asarray(jax.jit(jax.vmap(lambda k, e=est: e.value_fn(k, q).elbo))(keys))
    se = np.hypot(values[True].std(), values[False].std()) / np.sqrt(keys.shape[0])
    assert abs(values[True].mean() - values[False].mean()) < 4 * se
    with pytest.raises(ValueError, match=r"latent site\(s\) \['theta'\].*inside a subsampled plate"):
        vi.fit(jax.random.key(0), t, guide="meanfield")


# ----------------------------------------------------------------------------------- custom guides
def nn_guide(m):
    loc = m.param("loc", 0.0)
    scale = m.param("scale", 0.5, constraints.positive)
    m.sample("mu", dist.Normal(loc, scale))


def test_custom_guide_fits_and_gives_a_posterior(nn):
    t, exact, log_z = nn
    result = _fit(0, t, guide=nn_guide, num_steps=3000, num_particles=4, tol=None, progress_bar=True)
    params = result.guide.constrained_params()
    np.testing.assert_allclose(params["loc"], exact.loc, atol=0.01 * float(exact.scale))
    np.testing.assert_allclose(params["scale"], exact.scale, rtol=0.01)
    post = result.sample(jax.random.key(1), 2000)
    assert post["mu"].shape == (1, 2000)
    np.testing.assert_allclose(post["twice_mu"], 2 * post["mu"])
    table = post.summary()
    assert abs(table.loc["mu", "mean"] - float(exact.loc)) < 5 * float(exact.scale) / np.sqrt(2000)
    pred = predictive(jax.random.key(2), t.model, post, 20)
    assert pred["y"].shape == (1, 2000, 20)
    assert list(result.history().columns) == ["elbo", "expected_log_likelihood", "kl"]
    np.testing.assert_allclose(result.elbo, result.expected_log_likelihood - result.kl)


def test_map_guide_is_the_map_estimate(nn):
    t, exact, _ = nn
    result = _fit(0, t, guide="map", init="zero", optimizer=optax.adam(0.05), num_steps=3000, tol=1e-9)
    # The normal-normal posterior is symmetric: its mode is its mean.
    np.testing.assert_allclose(result.guide.loc[0], exact.loc, atol=1e-4)
    assert result.converged and result.num_steps < 3000
    np.testing.assert_allclose(result.kl[-1], -t.log_prior_fn(result.guide.loc), rtol=1e-9)


# ----------------------------------------------------------------------------------- bad input
def test_custom_guide_site_errors(nn):
    t = nn[0]

    def missing(m):
        m.param("loc", 0.0)

    def extra(m):
        nn_guide(m)
        m.sample("tau", dist.Normal(0.0, 1.0))

    def wrong_support(m):
        m.sample("mu", dist.LogNormal(m.param("loc", 0.0), 1.0))

    def wrong_shape(m):
        m.sample("mu", dist.Normal(jnp.zeros(2), 1.0))

    with pytest.raises(ValueError, match=r"does not draw the latent site\(s\) \['mu'\]"):
        vi.fit(jax.random.key(0), t, guide=missing)
    with pytest.raises(ValueError, match=r"draws site\(s\) \['tau'\] that are not latent sites"):
        vi.fit(jax.random.key(0), t, guide=extra)
    with pytest.raises(ValueError, match="site `mu` has support positive in the guide but real"):
        vi.fit(jax.random.key(0), t, guide=wrong_support)
    with pytest.raises(ValueError, match=r"site `mu` has shape \(2,\) in the guide"):
        vi.fit(jax.random.key(0), t, guide=wrong_shape)


def test_custom_guide_negative_scale_names_the_guide_site_and_param(nn):
    """A guide whose Normal gets a negative scale raised Normal's own error, naming neither the
    guide site nor the guide param; a scale that went negative while fitting was skipped step
    after step with a warning naming neither, and result.sample raised Normal's error."""
    t = nn[0]

    def negative(m):
        loc = m.param("mu_loc", 0.0)
        m.sample("mu", dist.Normal(loc, m.param("mu_scale", -0.1)))

    pattern = (
        r"guide `negative`: at its initial parameters, the distribution of site `mu` is invalid: "
        r"Normal: parameter `scale` must be positive.*guide param\(s\) `mu_scale` = -0\.1\. "
        r"`mu_scale` is declared without a constraint.*constraints\.positive"
    )
    with pytest.raises(ValueError, match=pattern):
        vi.custom_guide(jax.random.key(0), negative, t)
    with pytest.raises(ValueError, match=pattern):
        vi.fit(jax.random.key(0), t, guide=negative, progress_bar=False)

    def drifting(m):  # a valid start; the first, far too large step sends the scale below 0
        m.sample("mu", dist.Normal(m.param("mu_loc", 0.0), m.param("mu_scale", 0.05)))

    result = _fit(0, t, guide=drifting, optimizer=optax.sgd(100.0), num_steps=50, tol=None, warn=False)
    assert result.info["num_nonfinite_steps"] > 0
    fitted = (
        r"guide `drifting`: at its fitted parameters, the distribution of site `mu` is invalid.*`mu_scale`"
    )
    assert any(re.search(fitted, message) for message in result.warnings), result.warnings
    with pytest.raises(ValueError, match=fitted):
        result.sample(jax.random.key(1), 10)


def test_model_param_with_a_random_initialiser_is_refused():
    """A model function (no Target) with a random-initialised m.param: the ELBO ran the model with
    a key at some steps and none at others; now fit refuses it up front, naming the param."""
    import functools

    def model(m, y):
        w = m.param("w", lambda key: jax.random.uniform(key))
        k = m.sample("k", dist.Bernoulli(probs=0.3))
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Normal(2.0 * k * w, 1.0), obs=y)

    def guide(m):
        m.sample("k", dist.Bernoulli(probs=m.param("p", 0.5, constraints.unit_interval)))

    with pytest.raises(ValueError, match=r"param\(s\) \['w'\] have a random initialiser"):
        vi.fit(jax.random.key(0), functools.partial(model, y=jnp.ones(5)), guide=guide, progress_bar=False)


def test_argument_errors(nn):
    t = nn[0]
    with pytest.raises(ValueError, match="unknown guide 'advi'"):
        vi.fit(jax.random.key(0), t, guide="advi")
    with pytest.raises(ValueError, match="`num_steps` must be an integer >= 1"):
        vi.fit(jax.random.key(0), t, num_steps=0)
    with pytest.raises(ValueError, match="`num_particles` must be an integer >= 1"):
        vi.fit(jax.random.key(0), t, num_particles=0)
    with pytest.raises(ValueError, match="unknown estimator 'rao'"):
        vi.fit(jax.random.key(0), t, estimator="rao")
    with pytest.raises(ValueError, match="`num_particles` must be an integer >= 1"):
        vi.elbo(jax.random.key(0), t, vi.make_guide("meanfield", jnp.zeros(1)), num_particles=0)
    with pytest.raises(ValueError, match="has dim 2 but model `normal_normal` has 1"):
        vi.elbo(jax.random.key(0), t, vi.make_guide("meanfield", jnp.zeros(2)))
    with pytest.raises(TypeError, match="expected a Target"):
        vi.fit(jax.random.key(0), "not a model")
    with pytest.raises(ValueError, match="discrete latent site"):
        vi.fit(jax.random.key(0), lambda m: coin(m, jnp.ones(2)), guide="meanfield")


def test_empty_data_set_is_an_error():
    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        m.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.raises(ValueError, match="observed site `y` of model `model` has no data"):
        vi.fit(jax.random.key(0), target(model, jnp.zeros((0,))))


def test_an_elbo_that_is_minus_infinity_is_reported_as_such():
    """y ~ Uniform(0, a) needs a > max(y): every Gaussian guide over logit(a) puts mass where
    the likelihood is zero, so the ELBO is -inf. Averaging only the finite steps reported a
    finite final ELBO."""

    def model(m, y):
        a = m.sample("a", dist.Uniform(0.0, 1.0))
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Uniform(0.0, a), obs=y)

    t = target(model, jnp.array([0.7, 0.2, 0.5]))
    with pytest.warns(Warning, match="log density is -inf: the guide puts mass where the posterior has none"):
        result = _fit(0, t, init="zero", num_steps=2000, tol=None)
    assert result.final_elbo == -np.inf


def test_nonfinite_elbo_at_the_start_names_the_site():
    def model(m, y):
        rate = m.sample("rate", dist.Gamma(2.0, 2.0))
        m.sample("y", dist.Exponential(rate), obs=y)

    t = target(model, jnp.array([1.0, -0.5]))  # a negative waiting time: log p = -inf everywhere
    with pytest.raises(FloatingPointError, match=r"not finite at the start.*\['y'\]"):
        vi.fit(jax.random.key(0), t, init={"rate": 1.0}, num_steps=10)
