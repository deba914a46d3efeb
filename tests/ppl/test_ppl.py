"""The model language: handle semantics, interpreters, target, and the errors it promises."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import cauchy, norm

import bayeskit.dist as dist
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.halfcauchy import HalfCauchy
from bayeskit.dist.uniform import Uniform
from bayeskit.ppl import log_joint, predictive, sample_prior, target, trace

SIGMA = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def eight_schools(m, sigma, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau = m.sample("tau", HalfCauchy(5.0))
    with m.plate("school", sigma.shape[0]):
        theta_raw = m.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = m.deterministic("theta", mu + tau * theta_raw)
        m.sample("y", dist.Normal(theta, sigma), obs=y)


def hand_written(z):
    mu, log_tau, raw = z[0], z[1], z[2:]
    tau = jnp.exp(log_tau)
    theta = mu + tau * raw
    return (
        norm.logpdf(mu, 0, 5)
        + jnp.log(2.0)
        + cauchy.logpdf(tau, 0, 5)
        + log_tau  # half-Cauchy + Jacobian of exp
        + jnp.sum(norm.logpdf(raw))
        + jnp.sum(norm.logpdf(Y, theta, SIGMA))
    )


@pytest.fixture(scope="module")
def t8():
    return target(eight_schools, SIGMA, y=Y)


def test_target_layout(t8):
    assert t8.dim == 10
    assert [s.name for s in t8.sites] == ["mu", "tau", "theta_raw"]
    assert t8.deterministics == ("theta",)
    assert t8.observed == ("y",)


def test_logdensity_matches_hand_written(t8):
    z = jax.random.normal(jax.random.key(1), (10,))
    np.testing.assert_allclose(t8.logdensity_fn(z), hand_written(z), rtol=1e-12)
    g1 = jax.grad(t8.logdensity_fn)(z)
    g2 = jax.grad(hand_written)(z)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)
    # the parts add up
    total = t8.log_prior_fn(z) + t8.log_likelihood_fn(z) + t8.log_jacobian_fn(z)
    np.testing.assert_allclose(total, t8.logdensity_fn(z), rtol=1e-12)
    np.testing.assert_allclose(t8.log_jacobian_fn(z), z[1])


def test_jit_equals_nojit_and_traces_once(t8):
    calls = []

    def counted(m, sigma, y=None):
        calls.append(1)
        eight_schools(m, sigma, y)

    t = target(counted, SIGMA, y=Y)
    n_discovery = len(calls)
    f = jax.jit(t.logdensity_fn)
    zs = jax.random.normal(jax.random.key(2), (3, 10))
    for z in zs:
        np.testing.assert_allclose(f(z), t.logdensity_fn(z), rtol=1e-12)
    # one trace for jit and one for the direct calls (compiled once per target): never re-traced
    assert len(calls) - n_discovery == 1 + 1


def test_constrain_unconstrain_round_trip(t8):
    z = jax.random.normal(jax.random.key(3), (10,))
    v = t8.constrain(z)
    assert set(v) == {"mu", "tau", "theta_raw", "theta"}
    assert v["tau"] > 0
    np.testing.assert_allclose(v["theta"], v["mu"] + v["tau"] * v["theta_raw"])
    np.testing.assert_allclose(t8.unconstrain(v), z, rtol=1e-10)
    # batched z
    vb = t8.constrain(jnp.stack([z, z]).reshape(1, 2, 10))
    assert vb["theta"].shape == (1, 2, 8)


def test_simplex_and_dependent_support():
    def model(m):
        p = m.sample("p", Dirichlet(jnp.ones(3)))
        a = m.sample("a", Uniform(0.0, 1.0))
        b = m.sample("b", Uniform(0.0, 1.0 - a))  # support depends on another site
        m.deterministic("s", jnp.sum(p) + b)

    t = target(model)
    assert t.dim == 2 + 1 + 1
    z = jnp.array([0.3, -0.2, 0.5, 1.0])
    v = t.constrain(z)
    np.testing.assert_allclose(jnp.sum(v["p"]), 1.0)
    assert 0 < v["b"] < 1 - v["a"]
    np.testing.assert_allclose(t.unconstrain(v), z, rtol=1e-10)
    assert np.isfinite(t.logdensity_fn(z))


def test_plates_broadcast_and_nest():
    def model(m):
        with m.plate("rows", 3, dim=-2):
            with m.plate("cols", 4):
                x = m.sample("x", dist.Normal(0.0, 1.0))
        return x

    tr = trace(model, key=jax.random.key(0))
    assert tr["x"].value.shape == (3, 4)
    assert tr["x"].plates == ("rows", "cols")
    draws = sample_prior(jax.random.key(1), model, num_samples=5)
    assert draws["x"].shape == (5, 3, 4)
    for bad in (0, -1, 2.5):  # were an empty draw, an MLIRError and a bare TypeError
        with pytest.raises(ValueError, match=r"sample_prior: `num_samples` must be an integer >= 1"):
            sample_prior(jax.random.key(1), model, num_samples=bad)


def test_subsample_scales_log_likelihood():
    data = jnp.arange(10.0)

    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        with m.plate("data", 10, subsample_size=4) as idx:
            m.sample("y", dist.Normal(mu, 1.0), obs=y[idx])

    tr = trace(model, data, key=jax.random.key(0), values={"mu": 0.5})
    idx_used = np.asarray(tr["y"].value)
    expected = 10 / 4 * np.sum(norm.logpdf(idx_used, 0.5, 1.0))
    assert len(np.unique(idx_used)) == 4
    np.testing.assert_allclose(tr["y"].log_prob, expected, rtol=1e-12)
    assert tr["y"].scale == 2.5
    # given indices are used as is; a target evaluates the full data
    tr2 = trace(model, data, values={"mu": 0.5}, subsample={"data": jnp.array([0, 1])})
    np.testing.assert_allclose(tr2["y"].value, [0.0, 1.0])
    t = target(model, data)
    np.testing.assert_allclose(
        t.log_likelihood_fn(jnp.array([0.5])), np.sum(norm.logpdf(np.arange(10.0), 0.5, 1.0)), rtol=1e-12
    )


def test_factor_and_log_joint(t8):
    def model(m):
        x = m.sample("x", dist.Normal(0.0, 1.0))
        m.factor("penalty", -(x**2))

    np.testing.assert_allclose(log_joint(model, {"x": 1.0}), norm.logpdf(1.0) - 1.0)


def test_param_site():
    def model(m):
        loc = m.param("loc", 2.0)
        m.sample("x", dist.Normal(loc, 1.0), obs=jnp.array([1.0, 3.0]))

    tr = trace(model)
    assert tr["loc"].kind == "param" and float(tr["loc"].value) == 2.0
    tr = trace(model, params={"loc": 1.0})
    np.testing.assert_allclose(tr["x"].log_prob, np.sum(norm.logpdf(jnp.array([1.0, 3.0]), 1.0)))


def test_predictive_shapes(t8):
    z = jax.random.normal(jax.random.key(4), (2, 5, 10))
    draws = t8.constrain(z)  # [chain, draw, ...]
    pred = predictive(jax.random.key(5), eight_schools, draws, SIGMA)
    assert pred["y"].shape == (2, 5, 8)
    np.testing.assert_allclose(pred["theta"], draws["theta"], rtol=1e-12)
    prior = sample_prior(jax.random.key(6), eight_schools, SIGMA, num_samples=7)
    assert prior["y"].shape == (7, 8) and prior["tau"].shape == (7,)


def test_predictive_and_prior_cover_every_index_of_a_subsampled_plate():
    """Subsampling is for inference: predictions are for every data point (they were for a
    random minibatch per draw, with the indices lost)."""
    X = jnp.arange(50.0)

    def model(m, X, y=None):
        a = m.sample("a", dist.Normal(0.0, 1.0))
        with m.plate("n", 50, subsample_size=10) as idx:
            mu = m.deterministic("mu", a * X[idx])
            m.sample("y", dist.Normal(mu, 1.0), obs=None if y is None else y[idx])

    pred = predictive(jax.random.key(2), model, {"a": jnp.ones(3)}, X)
    assert pred["y"].shape == (3, 50)
    np.testing.assert_allclose(pred["mu"], np.broadcast_to(X, (3, 50)))
    assert sample_prior(jax.random.key(0), model, X, num_samples=2)["mu"].shape == (2, 50)


def test_numpy_data_indexed_by_plate_indices():
    X = np.linspace(0.0, 1.0, 5)

    def model(m, X, y=None):
        a = m.sample("a", dist.Normal(0.0, 1.0))
        with m.plate("n", 5) as idx:
            m.sample("y", dist.Normal(a * X[idx], 1.0), obs=y)

    t = target(model, X, y=np.ones(5))
    np.testing.assert_allclose(t.log_likelihood_fn(jnp.array([2.0])), np.sum(norm.logpdf(1.0, 2.0 * X, 1.0)))


# ------------------------------------------------------------------ promised errors


def test_predictive_names_what_is_wrong_with_samples(t8):
    with pytest.raises(ValueError, match="holds no sample site of model `eight_schools`"):
        predictive(jax.random.key(0), eight_schools, {"theta": jnp.zeros((3, 8))}, SIGMA)
    with pytest.raises(ValueError, match="must share their leading"):
        predictive(jax.random.key(0), eight_schools, {"mu": jnp.zeros(3), "tau": jnp.ones(4)}, SIGMA)
    # tau's log given for tau: predictions came from negative scales without a word.
    draws = {"mu": jnp.zeros((2, 3)), "tau": jnp.array([[0.5, -0.7, 1.0], [1.0, 1.0, -2.0]])}
    draws["theta_raw"] = jnp.zeros((2, 3, 8))
    with pytest.raises(
        ValueError,
        match=r"2 of 6 draws of site `tau` lie outside its support \(positive\); the first at index \(0, 1\): -0.7",
    ):
        predictive(jax.random.key(0), eight_schools, draws, SIGMA)
    for nothing in (None, {}):  # a prior predictive asked of predictive: point to sample_prior
        with pytest.raises(ValueError, match=r"`samples` is (None|empty).*sample_prior\(key, model"):
            predictive(jax.random.key(0), eight_schools, nothing, SIGMA)


def test_observed_data_are_checked_however_they_are_given():
    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        with m.plate("data", 3):
            m.sample("y", dist.Normal(mu, 1.0), obs=y)

    for y in ([1.0, np.nan, 3.0], np.array([1.0, np.inf, 3.0]), jnp.array([1.0, np.nan, 3.0])):
        with pytest.raises(ValueError, match="site `y` contains 1 NaN or infinite"):
            target(model, y)
    with pytest.raises(TypeError, match="site `y` must be numbers .* got dtype <U1"):
        target(model, ["a", "b", "c"])


def test_discrete_data_outside_the_support_name_the_site():
    """A label of -1 or 2 under a Bernoulli, a count of 1.5 under a Poisson, a class 3 of 3 under a
    Categorical: the log density was -inf without a word (MCMC then failed at its start)."""

    def labels(m, y):
        p = m.sample("p", Uniform(0.0, 1.0))
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Bernoulli(probs=p), obs=y)

    with pytest.raises(
        ValueError, match=r"site `y` is outside the support of its Bernoulli .* the first -1 "
    ):
        target(labels, np.array([1, -1, 1]))
    assert target(labels, np.array([1.0, 0.0, 1.0])).dim == 1  # floats 0/1 and booleans are fine
    assert target(labels, np.array([True, False, True])).dim == 1

    def counts(m, y):
        rate = m.sample("rate", dist.Gamma(2.0, 1.0))
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Poisson(rate), obs=y)

    with pytest.raises(
        ValueError, match=r"Poisson distribution \(nonnegative_integer\): 1 entry, the first 1.5"
    ):
        target(counts, jnp.array([0.0, 1.5, 3.0]))

    def classes(m, y):
        p = m.sample("p", dist.Dirichlet(jnp.ones(3)))
        with m.plate("data", y.shape[0]):
            m.sample("y", Categorical(probs=p), obs=y)

    with pytest.raises(
        ValueError, match=r"Categorical distribution \(integer_interval\(0, 2\)\).*index \[1\]"
    ):
        target(classes, np.array([0, 3, 1]))

    # Supports that depend on data (a Binomial's total_count, given as NumPy data or a number):
    # these were traced when the model was built, so only MCMC's start named the site.
    def trials(m, n, y):
        p = m.sample("p", dist.Beta(1.0, 1.0))
        with m.plate("data", y.shape[0]):
            m.sample("y", dist.Binomial(n, probs=p), obs=y)

    with pytest.raises(
        ValueError, match=r"Binomial distribution .* the first 7 at index \[1\].* from 0 to total_count"
    ):
        target(trials, np.array([5, 5, 5]), np.array([1, 7, 2]))
    assert target(trials, np.array([5, 5, 5]), np.array([1, 5, 0])).dim == 1

    def tallies(m, y):
        p = m.sample("p", dist.Dirichlet(jnp.ones(3)))
        m.sample("y", dist.Multinomial(5, probs=p), obs=y)

    with pytest.raises(ValueError, match=r"the first \[3, 3, 1\], .* summing to total_count"):
        target(tallies, np.array([3, 3, 1]))
    assert target(tallies, np.array([3, 1, 1])).dim == 2
    # A continuous support's boundary is not checked: an Exponential's density at 0 is finite.

    def waits(m, y):
        rate = m.sample("rate", dist.Gamma(2.0, 1.0))
        m.sample("y", dist.Exponential(rate), obs=y)

    assert np.isfinite(target(waits, jnp.array([0.0, 1.0])).logdensity_fn(jnp.zeros(1)))


def test_params_must_name_param_sites():
    def model(m, y=1.0):
        s = m.param("s", 1.0)
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        m.sample("y", dist.Normal(mu, s), obs=y)

    with pytest.raises(ValueError, match=r"`params` names \['q'\].*its param sites: \['s'\]"):
        target(model, params={"q": 2.0})


def test_duplicate_site_name():
    def model(m):
        m.sample("x", dist.Normal(0.0, 1.0))
        m.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match="`x` is used twice"):
        target(model)


def test_obs_shape_mismatch_names_site_and_plate():
    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        with m.plate("data", 5):
            m.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.raises(ValueError, match=r"site `y` has shape \(4,\)"):
        target(model, jnp.zeros(4))

    def no_plate(m, y):
        mu = m.sample("mu", dist.Normal(jnp.zeros(3), 1.0).to_event(1))
        m.sample("y", dist.Normal(mu, 1.0).to_event(1), obs=y)

    with pytest.raises(ValueError, match="observed value of site `y`"):
        target(no_plate, jnp.zeros(4))


def test_plate_size_mismatch():
    def model(m):
        with m.plate("p", 5):
            m.sample("x", dist.Normal(jnp.zeros(3), 1.0))

    with pytest.raises(ValueError, match="plate `p`"):
        target(model)


def test_nonfinite_data():
    def model(m, y):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        m.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.raises(ValueError, match="site `y` contains 1 NaN"):
        target(model, jnp.array([1.0, jnp.nan, 2.0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        target(model, jnp.array([jnp.inf]))


def test_discrete_latent_suggests_gibbs():
    def model(m):
        z = m.sample("z", Categorical(probs=jnp.ones(3) / 3))
        m.sample("y", dist.Normal(z, 1.0), obs=1.0)

    with pytest.raises(ValueError, match="site `z` is a discrete latent.*Gibbs"):
        target(model)

    def observed_discrete(m, y):
        p = m.sample("p", Uniform(0.0, 1.0))
        m.sample("y", Bernoulli(probs=p), obs=y)

    assert target(observed_discrete, jnp.array([0.0, 1.0, 1.0])).dim == 1


def test_missing_model_argument():
    with pytest.raises(TypeError, match="missing argument.*`sigma`"):
        target(eight_schools, y=Y)
    # an unknown keyword is named (it was reported as the positional argument it displaced)
    with pytest.raises(TypeError, match="has no argument\\(s\\) `z`"):
        target(eight_schools, SIGMA, y=Y, z=1)


def test_not_a_distribution():
    def model(m):
        m.sample("x", 3.0)

    with pytest.raises(TypeError, match="site `x` needs a bayeskit.dist distribution"):
        target(model)


def test_wrong_z_length(t8):
    with pytest.raises(ValueError, match="length 10"):
        t8.logdensity_fn(jnp.zeros(3))


def test_nonfinite_sites_are_named():
    def model(m):
        s = m.sample("s", dist.Normal(0.0, 1.0))
        m.factor("bad", jnp.log(s))  # NaN for negative s

    t = target(model)
    assert t.nonfinite_sites(jnp.array([-1.0])) == ["bad"]


def test_a_nan_gradient_is_blamed_on_its_own_site_only():
    """sqrt(s) at s < 0 has a NaN value and a NaN derivative. A Jacobian of every site at once
    pulled that NaN back into the other sites' rows (0 x NaN), and named all of them."""

    def model(m):
        s = m.sample("s", dist.Normal(0.0, 1.0))
        scale = m.sample("scale", dist.HalfNormal(1.0))
        with m.plate("n", 3):
            m.sample("y", dist.Normal(s, scale), obs=jnp.array([0.1, -0.2, 0.3]))
        m.factor("bad", jnp.sqrt(s))

    t = target(model)
    assert t.nonfinite_sites(jnp.array([-1.0, 0.2])) == ["bad"]
    assert t.nonfinite_sites(jnp.array([1.0, 0.2])) == []


def test_pandas_covariates_are_converted_at_the_boundary():
    """A pandas Series covariate (``a + b * x``) or a DataFrame design matrix (``X @ w``) failed
    inside the traced model with a TracerArrayConversionError; they now arrive as NumPy arrays."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=20)
    y_np = 1.0 + 2.0 * x_np + 0.3 * rng.normal(size=20)
    x, y = pd.Series(x_np, name="x"), pd.Series(y_np, name="y")

    def line(m, x, y=None):
        a = m.sample("a", dist.Normal(0.0, 5.0))
        b = m.sample("b", dist.Normal(0.0, 5.0))
        with m.plate("data", x.shape[0]):
            m.sample("y", dist.Normal(a + b * x, 1.0), obs=y)

    z = jnp.array([0.5, 1.5])
    expected = target(line, x_np, y=y_np).logdensity_fn(z)
    t = target(line, x, y=y)
    assert isinstance(t.args[0], np.ndarray) and isinstance(t.kwargs["y"], np.ndarray)
    np.testing.assert_allclose(t.logdensity_fn(z), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(t.logdensity_fn)(z), expected, rtol=1e-6)
    assert sample_prior(jax.random.key(0), line, x)["y"].shape == (20,)
    assert predictive(jax.random.key(1), line, {"a": jnp.zeros(3), "b": jnp.ones(3)}, x)["y"].shape == (3, 20)
    assert trace(line, x, y=y, key=jax.random.key(0))["y"].value.shape == (20,)

    def regression(m, X, y=None):
        w = m.sample("w", dist.Normal(0.0, 5.0).expand((2,)))
        with m.plate("data", X.shape[0]):
            m.sample("y", dist.Normal(X @ w, 1.0), obs=y)

    # Mixed int/bool/float columns, and a nullable integer column, convert to one float array.
    frame = pd.DataFrame({"x": x, "n": pd.array(np.arange(20), dtype="Int64")})
    t = target(regression, frame, y=y)
    np.testing.assert_allclose(t.args[0], np.column_stack([x_np, np.arange(20)]))
    assert np.isfinite(float(t.logdensity_fn(jnp.zeros(2))))
    # Inside a dict too.
    assert isinstance(target(lambda m, d: line(m, d["x"], d["y"]), {"x": x, "y": y}).args[0]["x"], np.ndarray)
    # Values a model cannot compute with: a clear error naming the argument and the columns.
    with pytest.raises(
        TypeError, match=r"argument `X` is a pandas DataFrame with column\(s\) \['g'\].*select_dtypes"
    ):
        target(regression, frame.assign(g=["a", "b"] * 10), y=y)
    with pytest.raises(TypeError, match=r"argument `x` is a pandas Series .*factorize"):
        target(line, pd.Series(["a"] * 20), y=y)

    # A model that takes the values itself keeps its DataFrame (string columns and all) ...
    def by_name(m, df):
        b = m.sample("b", dist.Normal(0.0, 5.0))
        with m.plate("data", len(df)):
            m.sample("y", dist.Normal(b * df["x"].to_numpy(), 1.0), obs=df["y"].to_numpy())

    named = frame.assign(y=y_np, g=["a", "b"] * 10)
    t = target(by_name, named)
    assert t.args[0] is named and np.isfinite(float(jax.jit(t.logdensity_fn)(jnp.zeros(1))))

    # ... and one that computes with pandas values directly is told to take .to_numpy().
    def direct(m, df):
        b = m.sample("b", dist.Normal(0.0, 5.0))
        with m.plate("data", len(df)):
            m.sample("y", dist.Normal(b * df["x"], 1.0), obs=df["y"].to_numpy())

    with pytest.raises(TypeError, match=r"`df` is a pandas object .*TracerArrayConversionError.*to_numpy"):
        target(direct, named.drop(columns="g"))


def test_param_with_a_random_initialiser():
    """``m.param(name, lambda key: ...)`` in a model: a Target built fine, then every evaluation
    of its log density (sampling, optimisation, VI) failed later, far from the cause; now target
    refuses it at once, naming the param, and a value in ``params`` makes it work."""

    def model(m, y=None):
        noise = m.param("noise", lambda key: 0.5 + jax.random.uniform(key))
        mu = m.sample("mu", dist.Normal(0.0, 5.0))
        with m.plate("data", 10):
            m.sample("y", dist.Normal(mu, noise), obs=y)

    y = jnp.linspace(1.0, 3.0, 10)
    with pytest.raises(
        ValueError, match=r"param\(s\) \['noise'\] have a random initialiser.*params=\{\"noise\": \.\.\.\}"
    ):
        target(model, y=y)
    t = target(model, y=y, params={"noise": 0.7})
    np.testing.assert_allclose(
        t.logdensity_fn(jnp.zeros(1)), norm.logpdf(0.0, 0.0, 5.0) + norm.logpdf(y, 0.0, 0.7).sum(), rtol=1e-6
    )
    # Interpreters with a key draw it, once per run, as documented.
    tr = trace(model, y=y, key=jax.random.key(0))
    assert 0.5 <= float(tr["noise"].value) <= 1.5
    assert sample_prior(jax.random.key(1), model)["y"].shape == (10,)


def test_constrain_on_concrete_values_is_compiled_once_per_shape():
    """Target.constrain on concrete values ran the model op by op (seconds on a small model the
    first time); it is compiled once per target and shape, and equals the traced path."""
    traces = []

    def model(m, y):
        traces.append(1)
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        sigma = m.sample("sigma", HalfCauchy(1.0))
        m.deterministic("scaled", mu / sigma)
        m.sample("y", dist.Normal(mu, sigma), obs=y)

    t = target(model, jnp.array([0.3, -0.2]))
    z = jax.random.normal(jax.random.key(0), (5, 2))
    first = t.constrain(z)
    n = len(traces)
    again = t.constrain(z + 1.0)
    assert len(traces) == n
    np.testing.assert_allclose(first["sigma"], np.exp(z[:, 1]), rtol=1e-12)
    np.testing.assert_allclose(again["scaled"], (z[:, 0] + 1.0) / np.exp(z[:, 1] + 1.0), rtol=1e-12)
    traced = jax.jit(t.constrain)(z[0])
    np.testing.assert_allclose(traced["scaled"], first["scaled"][0], rtol=1e-12)
    # So are direct calls of the log densities.
    direct = [t.logdensity_fn(z[0]), t.log_prior_fn(z[1])]
    n = len(traces)
    assert [float(t.logdensity_fn(z[0])), float(t.log_prior_fn(z[1]))] == [float(v) for v in direct]
    assert len(traces) == n
    np.testing.assert_allclose(direct[0], jax.jit(t.logdensity_fn)(z[0]), rtol=1e-12)


def test_deterministic_and_factor_values_must_be_numbers():
    """A string given to m.deterministic was JAX's "not a valid JAX array type", naming no site."""

    def labelled(m):
        m.sample("x", dist.Normal(0.0, 1.0))
        m.deterministic("label", "high")

    with pytest.raises(
        TypeError, match=r"labelled: the `value` of deterministic site `label` must be numbers"
    ):
        target(labelled)

    def weighted(m):
        m.sample("x", dist.Normal(0.0, 1.0))
        m.factor("w", [None])

    with pytest.raises(
        TypeError, match=r"the `log_weight` of factor site `w` must be numbers .* got dtype object"
    ):
        target(weighted)


def test_lists_of_numbers_become_arrays_when_the_model_needs_it():
    """``b * x`` with a list ``x`` is Python's TypeError; a list of numbers now arrives as an array
    when only that makes the model run, and stays a list when the model handles it."""
    x_np = np.linspace(0.0, 1.0, 10)
    y_np = 2.0 * x_np + 0.1

    def line(m, x, y=None):
        b = m.sample("b", dist.Normal(0.0, 5.0))
        with m.plate("data", len(x)):
            m.sample("y", dist.Normal(b * x, 1.0), obs=y)

    z = jnp.array([0.5])
    expected = target(line, x_np, y_np).logdensity_fn(z)
    t = target(line, list(x_np), y=list(y_np))
    assert isinstance(t.args[0], np.ndarray) and isinstance(t.kwargs["y"], np.ndarray)
    np.testing.assert_allclose(t.logdensity_fn(z), expected, rtol=1e-12)
    assert sample_prior(jax.random.key(0), line, list(x_np))["y"].shape == (10,)
    assert predictive(jax.random.key(1), line, {"b": jnp.ones(3)}, list(x_np))["y"].shape == (3, 10)

    def groups(m, sizes):  # a model that iterates over its list keeps it
        for i, n in enumerate(sizes):
            m.sample(f"a{i}", dist.Normal(0.0, 1.0).expand((n,)))

    t = target(groups, [2, 3])
    assert t.args[0] == [2, 3] and t.dim == 5
    # A ragged list cannot become an array: the model's own error shows.
    with pytest.raises(TypeError, match="unsupported operand"):
        target(line, [[1.0], [1.0, 2.0]])


def test_python_decisions_on_latent_values_name_the_model_and_site():
    def branchy(m):
        x = m.sample("x", dist.Normal(0.0, 1.0))
        if x > 0:
            m.sample("y", dist.Normal(0.0, 1.0))

    def converts(m, n):
        s = m.sample("s", dist.HalfNormal(1.0))
        m.sample("z", dist.Normal(0.0, 1.0).expand((int(n * s),)))

    with pytest.raises(
        TypeError, match=r"model `branchy` \(after site `x`\) makes a Python decision .*jnp.where"
    ):
        target(branchy)
    with pytest.raises(TypeError, match=r"model `converts` \(after site `s`\) .*ConcretizationTypeError"):
        target(converts, 3)
    with pytest.raises(TypeError, match=r"model `branchy` \(after site `x`\)"):
        sample_prior(jax.random.key(0), branchy, num_samples=2)
    with pytest.raises(TypeError, match=r"model `branchy` \(after site `x`\)"):
        predictive(jax.random.key(0), branchy, {"x": jnp.ones(2)})
    assert set(sample_prior(jax.random.key(0), branchy)) <= {"x", "y"}  # run eagerly, values are concrete
