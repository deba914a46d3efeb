"""Continuous univariate families against scipy.stats, plus sampler and behaviour checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

from bayeskit.dist import constraints as C
from bayeskit.dist.beta import Beta
from bayeskit.dist.cauchy import Cauchy
from bayeskit.dist.exponential import Exponential
from bayeskit.dist.gamma import Gamma
from bayeskit.dist.halfcauchy import HalfCauchy
from bayeskit.dist.halfnormal import HalfNormal
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.laplace import Laplace
from bayeskit.dist.lognormal import LogNormal
from bayeskit.dist.normal import Normal
from bayeskit.dist.studentt import StudentT
from bayeskit.dist.uniform import Uniform

RTOL = 1e-6
KEY = jax.random.key(20240)
QUANTILES = np.array([0.001, 0.01, 0.2, 0.5, 0.8, 0.99, 0.999])

# Each family: the class and the equivalent frozen scipy distribution for a parameter dict.
FAMILIES = {
    "Normal": (Normal, lambda p: st.norm(p["loc"], p["scale"])),
    "HalfNormal": (HalfNormal, lambda p: st.halfnorm(scale=p["scale"])),
    "LogNormal": (LogNormal, lambda p: st.lognorm(p["scale"], scale=np.exp(p["loc"]))),
    "StudentT": (StudentT, lambda p: st.t(p["df"], p["loc"], p["scale"])),
    "Cauchy": (Cauchy, lambda p: st.cauchy(p["loc"], p["scale"])),
    "HalfCauchy": (HalfCauchy, lambda p: st.halfcauchy(scale=p["scale"])),
    "Laplace": (Laplace, lambda p: st.laplace(p["loc"], p["scale"])),
    "Exponential": (Exponential, lambda p: st.expon(scale=1 / p["rate"])),
    "Gamma": (Gamma, lambda p: st.gamma(p["concentration"], scale=1 / p["rate"])),
    "InverseGamma": (InverseGamma, lambda p: st.invgamma(p["concentration"], scale=p["rate"])),
    "Beta": (Beta, lambda p: st.beta(p["concentration1"], p["concentration0"])),
    "Uniform": (Uniform, lambda p: st.uniform(p["low"], p["high"] - p["low"])),
}
HAS_ICDF = {"Normal", "HalfNormal", "LogNormal", "Cauchy", "HalfCauchy", "Laplace", "Exponential", "Uniform"}

A = np.array
CASES = [
    ("Normal", dict(loc=0.3, scale=1.7)),
    ("Normal", dict(loc=A([-1.0, 0.0, 2.5]), scale=A([[0.5], [3.0]]))),
    ("HalfNormal", dict(scale=1.0)),
    ("HalfNormal", dict(scale=A([0.2, 1.0, 5.0]))),
    ("LogNormal", dict(loc=0.0, scale=1.0)),
    ("LogNormal", dict(loc=A([[-0.5], [1.2]]), scale=A([0.3, 1.5]))),
    ("StudentT", dict(df=3.0, loc=0.0, scale=1.0)),
    ("StudentT", dict(df=1.5, loc=-2.0, scale=0.5)),
    ("StudentT", dict(df=A([[1.2], [4.0], [30.0]]), loc=A([0.0, 1.0]), scale=2.0)),
    ("Cauchy", dict(loc=0.0, scale=1.0)),
    ("Cauchy", dict(loc=A([-3.0, 0.0, 10.0]), scale=A([[0.1], [2.0]]))),
    ("HalfCauchy", dict(scale=1.0)),
    ("HalfCauchy", dict(scale=A([0.5, 5.0]))),
    ("Laplace", dict(loc=0.0, scale=1.0)),
    ("Laplace", dict(loc=A([[1.0], [-2.0]]), scale=A([0.3, 1.0, 4.0]))),
    ("Exponential", dict(rate=1.0)),
    ("Exponential", dict(rate=A([0.1, 2.0, 50.0]))),
    ("Gamma", dict(concentration=2.5, rate=1.0)),
    ("Gamma", dict(concentration=0.3, rate=2.0)),
    ("Gamma", dict(concentration=A([[0.5], [2.0], [7.5]]), rate=A([1.0, 3.0]))),
    ("InverseGamma", dict(concentration=3.0, rate=1.0)),
    ("InverseGamma", dict(concentration=1.5, rate=2.0)),
    ("InverseGamma", dict(concentration=A([[0.7], [2.5], [6.0]]), rate=A([0.5, 4.0]))),
    ("Beta", dict(concentration1=2.0, concentration0=5.0)),
    ("Beta", dict(concentration1=0.5, concentration0=0.5)),
    ("Beta", dict(concentration1=A([[0.7], [3.0]]), concentration0=A([0.5, 2.0, 10.0]))),
    ("Uniform", dict(low=0.0, high=1.0)),
    ("Uniform", dict(low=-2.0, high=3.5)),
    ("Uniform", dict(low=A([[-1.0], [0.0]]), high=A([1.0, 2.0, 5.0]))),
]
CASE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def build(name, params):
    cls, to_scipy = FAMILIES[name]
    return cls(**params), to_scipy(params)


def batch_shape_of(params):
    return np.broadcast_shapes(*(np.shape(v) for v in params.values()))


def quantile_grid(params):
    """Quantile levels shaped (len(QUANTILES), 1, ..., 1) to broadcast against the batch."""
    return QUANTILES.reshape((-1,) + (1,) * len(batch_shape_of(params)))


@pytest.fixture(params=range(len(CASES)), ids=CASE_IDS)
def case(request):
    name, params = CASES[request.param]
    d, ref = build(name, params)
    return name, params, d, ref


def test_batch_shape(case):
    _, params, d, _ = case
    assert tuple(d.batch_shape) == batch_shape_of(params)
    assert tuple(d.event_shape) == ()


def test_log_prob_matches_scipy(case):
    _, params, d, ref = case
    x = ref.ppf(quantile_grid(params))
    lp = d.log_prob(x)
    assert lp.shape == x.shape
    np.testing.assert_allclose(lp, ref.logpdf(x), rtol=RTOL, atol=1e-10)


def test_cdf_matches_scipy(case):
    _, params, d, ref = case
    x = ref.ppf(quantile_grid(params))
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=RTOL, atol=1e-12)


def test_icdf_matches_scipy(case):
    name, params, d, ref = case
    q = quantile_grid(params)
    if name not in HAS_ICDF:
        with pytest.raises(NotImplementedError, match=name):
            d.icdf(q)
        return
    np.testing.assert_allclose(d.icdf(q), ref.ppf(q), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(d.cdf(d.icdf(q)), np.broadcast_to(q, d.icdf(q).shape), rtol=1e-9)


def test_mean_variance_entropy_match_scipy(case):
    _, params, d, ref = case
    shape = batch_shape_of(params)
    for ours, theirs in [(d.mean, ref.mean()), (d.variance, ref.var()), (d.entropy(), ref.entropy())]:
        assert ours.shape == shape
        np.testing.assert_allclose(ours, np.broadcast_to(theirs, shape), rtol=RTOL, equal_nan=True)


def test_log_prob_outside_support_is_minus_inf(case):
    name, params, d, _ = case
    if d.support is C.real:
        return
    if name == "Uniform":
        outside = [np.min(params["low"]) - 1.0, np.max(params["high"]) + 1.0]
    elif name == "Beta":
        outside = [-0.1, 1.1]
    else:
        outside = [-1.0, -1e-3]
    for x in outside:
        assert np.all(d.log_prob(x) == -np.inf)
        grad = jax.grad(lambda x: jnp.sum(d.log_prob(x)))(x)
        assert np.isfinite(grad)


def test_sampler_goodness_of_fit(case):
    _, params, d, ref = case
    shape = batch_shape_of(params)
    draws = np.asarray(d.sample(KEY, (2000,)))
    assert draws.shape == (2000,) + shape
    assert np.all(np.asarray(d.support.check(draws)))
    pit = ref.cdf(draws)
    for idx in np.ndindex(*shape):
        p = st.kstest(pit[(slice(None),) + idx], "uniform").pvalue
        assert p > 1e-5, f"KS test failed at batch index {idx}: p={p:.2g}"


@pytest.mark.parametrize("sample_shape", [(), (3,), (2, 4)])
def test_sample_shape_and_dtype(case, sample_shape):
    _, params, d, _ = case
    x = d.sample(KEY, sample_shape)
    assert x.shape == sample_shape + batch_shape_of(params)
    assert x.dtype == jnp.float64


def test_float32_parameters_give_float32_samples(case):
    name, params, _, _ = case
    cls, _ = FAMILIES[name]
    d = cls(**{k: np.asarray(v, np.float32) for k, v in params.items()})
    assert d.sample(KEY, (2,)).dtype == jnp.float32


def test_jit_log_prob_equals_eager(case):
    _, params, d, ref = case
    x = ref.ppf(quantile_grid(params))
    jitted = jax.jit(lambda d, x: d.log_prob(x))(d, x)
    np.testing.assert_allclose(jitted, d.log_prob(x), rtol=1e-12)


def test_construction_under_jit_with_traced_parameters(case):
    name, params, d, ref = case
    cls, _ = FAMILIES[name]
    x = ref.ppf(quantile_grid(params))
    traced = jax.jit(lambda p: cls(**p).log_prob(x))({k: jnp.asarray(v) for k, v in params.items()})
    np.testing.assert_allclose(traced, d.log_prob(x), rtol=1e-12)
    # Validation is skipped for traced values rather than failing on them.
    bad = {k: -jnp.ones_like(jnp.asarray(v)) for k, v in params.items()}
    jax.jit(lambda p: cls(**p).batch_shape and 0.0)(bad)


def test_sample_gradient_is_finite(case):
    name, params, d, _ = case
    cls, _ = FAMILIES[name]
    assert d.has_rsample

    def total(p):
        return jnp.sum(cls(**p).sample(KEY, (16,)))

    grads = jax.grad(total)({k: jnp.asarray(v, jnp.float64) for k, v in params.items()})
    for k, g in grads.items():
        assert np.all(np.isfinite(g)), f"{name}: non-finite gradient wrt {k}"


def test_location_scale_gradients_are_pathwise():
    # d sample / d loc == 1 and d sample / d scale == standardised draw, for loc-scale families.
    for cls in (Normal, Laplace, Cauchy):
        eps = cls(0.0, 1.0).sample(KEY, (5,))
        g_loc = jax.grad(lambda m, cls=cls: jnp.sum(cls(m, 2.0).sample(KEY, (5,))))(0.7)
        g_scale = jax.grad(lambda s, cls=cls: jnp.sum(cls(0.7, s).sample(KEY, (5,))))(2.0)
        np.testing.assert_allclose(g_loc, 5.0)
        np.testing.assert_allclose(g_scale, jnp.sum(eps), rtol=1e-12)


def test_gamma_sample_gradient_matches_implicit_reparameterisation():
    # For x = F^{-1}(u; a) / rate, dx/drate = -x / rate.
    x = Gamma(2.0, 4.0).sample(KEY, (5,))
    g = jax.grad(lambda r: jnp.sum(Gamma(2.0, r).sample(KEY, (5,))))(4.0)
    np.testing.assert_allclose(g, -jnp.sum(x) / 4.0, rtol=1e-12)


BAD_PARAMETERS = [
    (Normal, dict(loc=0.0, scale=-1.0), "scale"),
    (Normal, dict(loc=np.nan, scale=1.0), "loc"),
    (HalfNormal, dict(scale=0.0), "scale"),
    (LogNormal, dict(loc=np.inf, scale=1.0), "loc"),
    (LogNormal, dict(loc=0.0, scale=-2.0), "scale"),
    (StudentT, dict(df=0.0), "df"),
    (StudentT, dict(df=3.0, loc=np.nan), "loc"),
    (StudentT, dict(df=3.0, scale=-1.0), "scale"),
    (Cauchy, dict(loc=0.0, scale=-2.0), "scale"),
    (Cauchy, dict(loc=np.inf), "loc"),
    (HalfCauchy, dict(scale=0.0), "scale"),
    (Laplace, dict(loc=0.0, scale=-1.0), "scale"),
    (Exponential, dict(rate=0.0), "rate"),
    (Exponential, dict(rate=A([1.0, -1.0, 2.0])), "rate"),
    (Gamma, dict(concentration=-1.0), "concentration"),
    (Gamma, dict(concentration=1.0, rate=A([1.0, 0.0])), "rate"),
    (InverseGamma, dict(concentration=0.0), "concentration"),
    (InverseGamma, dict(concentration=2.0, rate=-1.0), "rate"),
    (Beta, dict(concentration1=0.0, concentration0=1.0), "concentration1"),
    (Beta, dict(concentration1=1.0, concentration0=-3.0), "concentration0"),
    (Uniform, dict(low=-np.inf, high=1.0), "low"),
    (Uniform, dict(low=0.0, high=np.nan), "high"),
]


@pytest.mark.parametrize("cls, params, bad", BAD_PARAMETERS, ids=[f"{c.__name__}-{b}" for c, _, b in BAD_PARAMETERS])
def test_invalid_parameter_raises_naming_it(cls, params, bad):
    with pytest.raises(ValueError, match=f"{cls.__name__}: parameter `{bad}`"):
        cls(**params)


@pytest.mark.parametrize("low, high", [(1.0, 0.0), (2.0, 2.0), (A([0.0, 3.0]), A([1.0, 2.0]))])
def test_uniform_requires_low_below_high(low, high):
    with pytest.raises(ValueError) as info:
        Uniform(low, high)
    assert "`low`" in str(info.value) and "`high`" in str(info.value)


def test_uniform_support_is_the_interval():
    support = Uniform(-1.0, 2.0).support
    np.testing.assert_array_equal(support.check(jnp.array([-1.5, -1.0, 0.0, 2.0, 2.5])), [0, 1, 1, 1, 0])


def test_studentt_moments_where_undefined():
    df = A([0.5, 1.0, 1.5, 2.0, 3.0])
    d = StudentT(df, loc=1.0, scale=2.0)
    np.testing.assert_array_equal(d.mean, [np.nan, np.nan, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(d.variance, st.t(df, 1.0, 2.0).var(), rtol=RTOL)  # nan, nan, inf, inf, 12


def test_inversegamma_moments_where_infinite():
    a = A([0.5, 1.0, 1.5, 2.0, 3.0])
    d, ref = build("InverseGamma", dict(concentration=a, rate=2.0))
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=RTOL)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=RTOL)


def test_boundary_log_densities_match_scipy():
    cases = [
        (Gamma(0.5, 1.0), st.gamma(0.5), 0.0),
        (Gamma(1.0, 2.0), st.gamma(1.0, scale=0.5), 0.0),
        (Gamma(3.0, 1.0), st.gamma(3.0), 0.0),
        (Beta(1.0, 3.0), st.beta(1.0, 3.0), 0.0),
        (Beta(2.0, 1.0), st.beta(2.0, 1.0), 1.0),
        (Beta(0.5, 2.0), st.beta(0.5, 2.0), 0.0),
        (Exponential(3.0), st.expon(scale=1 / 3), 0.0),
        (HalfNormal(2.0), st.halfnorm(scale=2.0), 0.0),
        (InverseGamma(2.0, 1.0), st.invgamma(2.0), 0.0),
        (LogNormal(0.0, 1.0), st.lognorm(1.0), 0.0),
        (Uniform(-1.0, 1.0), st.uniform(-1.0, 2.0), 1.0),
    ]
    for d, ref, x in cases:
        np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=RTOL, err_msg=repr(d))


def test_far_tail_cdf_keeps_relative_accuracy():
    x = A([-1e6, -1e3, 1e3])
    np.testing.assert_allclose(Cauchy(0.0, 1.0).cdf(x), st.cauchy.cdf(x), rtol=1e-9)
    np.testing.assert_allclose(StudentT(2.5).cdf(x), st.t(2.5).cdf(x), rtol=1e-6)
    q = A([1e-12, 0.5 - 1e-9, 1 - 1e-12])
    np.testing.assert_allclose(Cauchy(0.0, 1.0).icdf(q), st.cauchy.ppf(q), rtol=1e-6)
    np.testing.assert_allclose(HalfCauchy(1.0).icdf(q), st.halfcauchy.ppf(q), rtol=1e-6)
