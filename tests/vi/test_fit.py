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


def test_a_second_fit_of_a_target_reuses_the_compiled_steps_and_draws_its_own_noise():
    """Fits built their step loop afresh, so every fit of the same target compiled it again (about
    0.9 s on a small model); the key, step budget and Laplace preconditioner were constants of it."""
    from bayeskit._compiled import _CACHE

    def line(m, x, y):
        a = m.sample("a", dist.Normal(0.0, 1.0))
        b = m.sample("b", dist.Normal(0.0, 1.0))
        with m.plate("data", x.shape[0]):
            m.sample("y", dist.Normal(a + b * x, NOISE), obs=y)

    x = jnp.linspace(-1.0, 1.0, 15)
    y = 0.3 + 0.7 * x + NOISE * jax.random.normal(jax.random.key(3), (15,))
    kw = dict(num_steps=300, tol=None, compilation_cache=False)
    t = target(line, x, y)
    first, second = _fit(0, t, **kw), _fit(1, t, **kw)
    assert sum(k[0] == "lowered" for k in _CACHE[t]) == 1  # one program for both fits
    # The cached program runs the new key: the same history as a fit of a fresh target.
    alone = _fit(1, target(line, x, y), **kw)
    np.testing.assert_allclose(second.elbo, alone.elbo, rtol=1e-12)
    assert not np.allclose(first.elbo, second.elbo)
    # The compiled program lives as long as its target: dropping the target and the results
    # (which hold their target) frees it.
    import gc
    import weakref

    alive = weakref.ref(t)
    del t, first, second
    gc.collect()
    assert alive() is None


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
    # `rank` with a guide that has none was ignored.
    with pytest.raises(ValueError, match=r"`rank` applies to guide='lowrank' only, .* guide='meanfield'"):
        vi.fit(jax.random.key(0), t, rank=2)
    with pytest.raises(ValueError, match=r"make_guide: `rank` applies to kind='lowrank' only"):
        vi.make_guide("fullrank", jnp.zeros(2), rank=1)


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


# ------------------------------------------------------------------- found in a bug hunt (fixed)
def test_custom_guide_with_a_seed_says_how_to_make_a_key(nn):
    """custom_guide(0, ...) failed inside JAX with 'invalid PRNG key data'."""
    with pytest.raises(TypeError, match=r"vi\.custom_guide: `key` must be one JAX random key, got the int 0"):
        vi.custom_guide(0, nn_guide, nn[0])


def test_learning_rate_sets_the_default_optimizer_and_is_checked(nn):
    """fit had no `learning_rate`: the only way to change the step size was to build an optax
    optimiser, and a negative rate in it silently minimised the ELBO."""
    t = nn[0]
    for bad in (0, -0.01, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="fit: `learning_rate` must be a finite positive number"):
            vi.fit(jax.random.key(0), t, learning_rate=bad)
    with pytest.raises(ValueError, match="either `learning_rate`.*or `optimizer`, not both"):
        vi.fit(jax.random.key(0), t, learning_rate=0.1, optimizer=optax.adam(0.1))
    with pytest.raises(ValueError, match="default_optimizer: `learning_rate` must be a finite positive"):
        vi.default_optimizer(100, learning_rate=-1.0)
    # Adam's first steps move each parameter by about the learning rate.
    small = _fit(0, t, init="zero", learning_rate=1e-6, num_steps=5, tol=None)
    large = _fit(0, t, init="zero", learning_rate=0.1, num_steps=5, tol=None)
    assert abs(float(small.guide.loc[0])) < 1e-5
    assert abs(float(large.guide.loc[0])) > 0.2


def test_a_guide_collapsed_by_huge_steps_is_an_error_that_says_so(nn):
    """A learning rate of 1e6 sent the log scale to about -1e6 in one step, every later step was
    non-finite, and mapping the guide back failed with "MeanFieldGuide: `scale` must be positive"."""
    with pytest.raises(
        FloatingPointError, match=r"fit: the guide collapsed: .* lower `learning_rate` \(it was 1e\+06\)"
    ):
        _fit(0, nn[0], learning_rate=1e6, num_steps=20, tol=None)


def test_init_scale_is_checked_whatever_the_init(nn):
    """With the default init='laplace', init_scale=-1 was accepted without a word."""
    with pytest.raises(ValueError, match="fit: `init_scale` must be a finite positive number, got -1.0"):
        vi.fit(jax.random.key(0), nn[0], init_scale=-1.0)


def test_an_init_point_with_a_guide_that_is_not_automatic_is_refused(nn):
    """`init` was silently ignored for custom guides and guide objects."""
    t = nn[0]
    with pytest.raises(ValueError, match="the guide given is the guide function `nn_guide`.*drop `init`"):
        vi.fit(jax.random.key(0), t, guide=nn_guide, init={"mu": 3.0})
    start = vi.make_guide("meanfield", jnp.zeros(1))
    with pytest.raises(ValueError, match="the guide given is a MeanFieldGuide object"):
        vi.fit(jax.random.key(0), t, guide=start, init=jnp.ones(1))


def test_a_model_without_latent_sites_is_refused_for_every_guide():
    """The automatic guides refused such a model, but a guide function ran all its steps."""

    def model(m, y):
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Normal(0.0, 1.0), obs=y)

    t = target(model, jnp.ones(3))
    for guide in ("meanfield", lambda m: None):
        with pytest.raises(ValueError, match="model `model` has no latent sites"):
            vi.fit(jax.random.key(0), t, guide=guide, progress_bar=False)
    # What the message points to: with no latent sites the log density is log p(D).
    np.testing.assert_allclose(t.logdensity_fn(jnp.zeros(0)), 3 * jax.scipy.stats.norm.logpdf(1.0))


def test_a_custom_guide_of_another_model_is_named(nn):
    """elbo and decompose_evidence did not check a custom guide against the model: a guide with
    an extra site failed with 'no value for latent site `v` ... no key was passed to draw it'."""

    def guide(m):
        nn_guide(m)
        m.sample("v", dist.Normal(0.0, 1.0))

    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        v = m.sample("v", dist.Normal(0.0, 1.0))
        m.sample("y", dist.Normal(mu + v, NOISE), obs=y)

    fitted = vi.custom_guide(jax.random.key(0), guide, target(model, jnp.ones(3)))
    pattern = r"guide `guide` draws site\(s\) \['v'\] that are not latent sites of model `normal_normal`"
    with pytest.raises(ValueError, match=pattern):
        vi.elbo(jax.random.key(0), nn[0], fitted, num_particles=10)
    with pytest.raises(ValueError, match=pattern):
        vi.decompose_evidence(jax.random.key(0), nn[0], fitted, num_particles=10)


def test_decompose_evidence_checks_the_given_log_evidence(nn):
    """A NaN log_evidence gave kl_to_posterior = NaN silently; a string, float()'s own error."""
    t, _, log_z = nn
    guide = vi.make_guide("meanfield", jnp.zeros(1))
    for bad in (float("nan"), float("inf"), "x", [1.0, 2.0]):
        with pytest.raises(
            ValueError, match="decompose_evidence: `log_evidence` must be a finite real number"
        ):
            vi.decompose_evidence(jax.random.key(0), t, guide, log_evidence=bad, num_particles=10)
    d = vi.decompose_evidence(jax.random.key(0), t, guide, log_evidence=jnp.asarray(log_z), num_particles=10)
    assert d.log_evidence == pytest.approx(log_z)


def test_a_result_passed_as_the_guide_says_to_pass_its_guide(nn):
    t = nn[0]
    result = _fit(0, t, init="zero", num_steps=5, tol=None)
    with pytest.raises(
        TypeError, match=r"got a VIResult \(to continue a fit, pass its fitted guide, `result.guide`\)"
    ):
        vi.fit(jax.random.key(0), t, guide=result)
    with pytest.raises(TypeError, match=r"got VIResult \(for the result of fit, pass its fitted guide"):
        vi.elbo(jax.random.key(0), t, result)
