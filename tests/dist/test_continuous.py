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
# One scalar and one batched setting per family. Every batched setting has batch shape (3, 2)
# (a (3, 1) parameter against a (2,) one, or one (3, 2) parameter): eager JAX compiles each
# primitive and sampler once per shape, so equal shapes let the families share compiled code.
CASES = [
    ("Normal", dict(loc=0.3, scale=1.7)),
    ("Normal", dict(loc=A([[-1.0], [0.0], [2.5]]), scale=A([0.5, 3.0]))),
    ("HalfNormal", dict(scale=1.0)),
    ("HalfNormal", dict(scale=A([[0.2, 1.0], [5.0, 0.01], [1.5, 30.0]]))),
    ("LogNormal", dict(loc=0.0, scale=1.0)),
    ("LogNormal", dict(loc=A([[-0.5], [1.2], [3.0]]), scale=A([0.3, 1.5]))),
    ("StudentT", dict(df=3.0, loc=0.0, scale=1.0)),
    ("StudentT", dict(df=A([[1.5], [4.0], [30.0]]), loc=A([-2.0, 1.0]), scale=A([0.5, 2.0]))),
    ("Cauchy", dict(loc=0.0, scale=1.0)),
    ("Cauchy", dict(loc=A([[-3.0], [0.0], [10.0]]), scale=A([0.1, 2.0]))),
    ("HalfCauchy", dict(scale=1.0)),
    ("HalfCauchy", dict(scale=A([[0.5, 5.0], [1.0, 0.1], [2.0, 20.0]]))),
    ("Laplace", dict(loc=0.0, scale=1.0)),
    ("Laplace", dict(loc=A([[1.0], [-2.0], [0.0]]), scale=A([0.3, 4.0]))),
    ("Exponential", dict(rate=1.0)),
    ("Exponential", dict(rate=A([[0.1, 2.0], [50.0, 1.0], [0.5, 7.0]]))),
    ("Gamma", dict(concentration=2.5, rate=1.0)),
    ("Gamma", dict(concentration=A([[0.3], [2.0], [7.5]]), rate=A([1.0, 3.0]))),
    ("InverseGamma", dict(concentration=3.0, rate=1.0)),
    ("InverseGamma", dict(concentration=A([[0.7], [1.5], [6.0]]), rate=A([0.5, 4.0]))),
    ("Beta", dict(concentration1=2.0, concentration0=5.0)),
    ("Beta", dict(concentration1=A([[0.5], [3.0], [40.0]]), concentration0=A([0.5, 10.0]))),
    ("Uniform", dict(low=-2.0, high=3.5)),
    ("Uniform", dict(low=A([[-1.0], [0.0], [0.5]]), high=A([1.0, 5.0]))),
]
CASE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
FAMILY_CASES = {name: params for name, params in CASES}  # the batched (last) setting per family


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


@pytest.fixture(params=list(FAMILY_CASES), ids=list(FAMILY_CASES))
def family(request):
    """The batched setting of each family, for checks that need not run on every setting."""
    name = request.param
    return name, FAMILY_CASES[name], FAMILIES[name][0]


def as_jax(params):
    return {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}


def test_matches_scipy(case):
    name, params, d, ref = case
    q = quantile_grid(params)
    x = ref.ppf(q)
    shape = batch_shape_of(params)
    assert tuple(d.batch_shape) == shape and tuple(d.event_shape) == ()
    checks = [
        ("log_prob", d.log_prob(x), ref.logpdf(x)),
        ("cdf", d.cdf(x), ref.cdf(x)),
        ("mean", d.mean, np.broadcast_to(ref.mean(), shape)),
        ("variance", d.variance, np.broadcast_to(ref.var(), shape)),
        ("entropy", d.entropy(), np.broadcast_to(ref.entropy(), shape)),
    ]
    if name in HAS_ICDF:
        checks.append(("icdf", d.icdf(q), ref.ppf(q)))
        checks.append(("cdf(icdf)", d.cdf(d.icdf(q)), np.broadcast_to(q, x.shape)))
    for what, got, expected in checks:
        assert got.shape == expected.shape, what
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-12, equal_nan=True, err_msg=what)


def test_jit_with_traced_parameters_equals_eager(family):
    name, params, cls = family
    d, ref = build(name, params)
    x = ref.ppf(quantile_grid(params))
    jitted = jax.jit(lambda p, x: cls(**p).log_prob(x))(as_jax(params), x)
    np.testing.assert_allclose(jitted, d.log_prob(x), rtol=1e-12)


def test_sampler_goodness_of_fit(case):
    _, params, d, ref = case
    shape = batch_shape_of(params)
    # 6000 draws per case, always of shape (1000, 3, 2) so that compiled samplers are shared.
    sample_shape = (1000, 3, 2) if shape == () else (1000,)
    draws = np.asarray(d.sample(KEY, sample_shape))
    assert draws.shape == sample_shape + shape
    assert np.all(np.asarray(d.support.check(draws)))
    pit = ref.cdf(draws).reshape((-1,) + shape)
    for idx in np.ndindex(*shape):
        p = st.kstest(pit[(slice(None),) + idx], "uniform").pvalue
        assert p > 1e-5, f"KS test failed at batch index {idx}: p={p:.2g}"


def test_shapes_and_dtypes(family):
    name, params, cls = family
    batch = batch_shape_of(params)
    d = cls(**params)
    # eval_shape traces without compiling.
    for sample_shape in [(), (2,), (2, 3)]:
        out = jax.eval_shape(lambda d, sample_shape=sample_shape: d.sample(KEY, sample_shape), d)
        assert out.shape == sample_shape + batch and out.dtype == jnp.float64
        x = jnp.zeros(sample_shape + batch)
        assert jax.eval_shape(d.log_prob, x).shape == sample_shape + batch
    # One integer is that many draws, as (n,) is; NumPy and 0-d JAX integers count as integers.
    for n in (4, np.int64(4), np.array(4), jnp.array(4)):
        assert jax.eval_shape(lambda d, n=n: d.sample(KEY, n), d).shape == (4,) + batch
    single = cls(**{k: np.asarray(v, np.float32) for k, v in params.items()})
    assert jax.eval_shape(lambda d: d.sample(KEY, (2,)), single).dtype == jnp.float32
    # Invalid values are not checked while traced (they are tracers, not numbers).
    bad = {k: -jnp.ones_like(v) for k, v in as_jax(params).items()}
    jax.eval_shape(lambda p: cls(**p).log_prob(0.5), bad)


def test_icdf_is_missing_only_without_closed_form(family):
    name, params, cls = family
    if name in HAS_ICDF:
        return
    with pytest.raises(NotImplementedError, match=f"{name} has no closed-form icdf"):
        cls(**params).icdf(0.5)


def test_log_prob_outside_support_is_minus_inf(family):
    name, params, cls = family
    d = cls(**params)
    if d.support is C.real:
        return
    if name == "Uniform":
        outside = [np.min(params["low"]) - 1.0, np.max(params["high"]) + 1.0]
    elif name == "Beta":
        outside = [-0.1, 1.1]
    else:
        outside = [-1.0, -1e-3]
    x = jnp.asarray(outside).reshape((-1,) + (1,) * len(d.batch_shape))
    lp, grad = jax.jit(jax.value_and_grad(lambda x: jnp.sum(cls(**params).log_prob(x))))(x)
    assert lp == -np.inf
    assert np.all(np.isfinite(grad))


def reduce_to(g, shape):
    """Sum a full-shape array of per-draw derivatives down to a parameter's shape."""
    g = np.asarray(g)
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


# d x / d parameter for each draw x, where the sampler is an explicit transform of parameter-free
# noise; gradients wrt shape parameters (df, concentrations) come from JAX's implicit
# reparameterisation of the gamma sampler and are checked for finiteness only.
PATHWISE = {
    "Normal": lambda x, p: dict(loc=np.ones_like(x), scale=(x - p["loc"]) / p["scale"]),
    "HalfNormal": lambda x, p: dict(scale=x / p["scale"]),
    "LogNormal": lambda x, p: dict(loc=x, scale=x * (np.log(x) - p["loc"]) / p["scale"]),
    "StudentT": lambda x, p: dict(loc=np.ones_like(x), scale=(x - p["loc"]) / p["scale"]),
    "Cauchy": lambda x, p: dict(loc=np.ones_like(x), scale=(x - p["loc"]) / p["scale"]),
    "HalfCauchy": lambda x, p: dict(scale=x / p["scale"]),
    "Laplace": lambda x, p: dict(loc=np.ones_like(x), scale=(x - p["loc"]) / p["scale"]),
    "Exponential": lambda x, p: dict(rate=-x / p["rate"]),
    "Gamma": lambda x, p: dict(rate=-x / p["rate"]),
    "InverseGamma": lambda x, p: dict(rate=x / p["rate"]),
    "Beta": lambda x, p: dict(),
    "Uniform": lambda x, p: dict(
        low=(p["high"] - x) / (p["high"] - p["low"]), high=(x - p["low"]) / (p["high"] - p["low"])
    ),
}


def test_sample_gradients_are_pathwise_and_finite(family):
    name, params, cls = family
    assert cls.has_rsample
    x, pullback = jax.vjp(lambda p: cls(**p).sample(KEY, (4,)), as_jax(params))
    (grads,) = pullback(jnp.ones_like(x))
    for k, g in grads.items():
        assert g.shape == np.shape(params[k])
        assert np.all(np.isfinite(g)), f"{name}: non-finite gradient wrt {k}"
    for k, per_draw in PATHWISE[name](np.asarray(x), params).items():
        np.testing.assert_allclose(grads[k], reduce_to(per_draw, np.shape(params[k])), rtol=1e-10, err_msg=k)


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


@pytest.mark.parametrize(
    "cls, params, bad", BAD_PARAMETERS, ids=[f"{c.__name__}-{b}" for c, _, b in BAD_PARAMETERS]
)
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
    # Exact quantiles of these float q, written so that neither tail cancels (scipy's tan(pi q / 2)
    # is off by 3e-5 relative at q = 1 - 1e-12).
    q = A([1e-12, 0.25, 0.5 - 1e-9, 0.75, 1 - 1e-12])
    upper = 1 / np.tan(np.pi * (1 - q) / 2)
    half_cauchy = np.where(q < 0.5, np.tan(np.pi * q / 2), upper)
    cauchy = np.where(q < 0.5, -1 / np.tan(np.pi * q), 1 / np.tan(np.pi * (1 - q)))
    np.testing.assert_allclose(HalfCauchy(1.0).icdf(q), half_cauchy, rtol=1e-12)
    np.testing.assert_allclose(Cauchy(0.0, 1.0).icdf(q), cauchy, rtol=1e-12)
    np.testing.assert_allclose(HalfCauchy(1.0).icdf(q[1:-1]), st.halfcauchy.ppf(q[1:-1]), rtol=1e-9)
    np.testing.assert_allclose(Cauchy(0.0, 1.0).icdf(q[1:-1]), st.cauchy.ppf(q[1:-1]), rtol=1e-9)
    # Laplace: cdf(-40) was 0 (1/2 - 1/2 expm1(-40) cancels; it is 2.1e-18) and icdf(1e-20) -inf.
    x = A([-700.0, -40.0, -1.0, 0.0, 2.0, 30.0])
    np.testing.assert_allclose(Laplace(0.0, 1.0).cdf(x), st.laplace.cdf(x), rtol=1e-12)
    q = A([1e-300, 1e-20, 0.3, 0.5, 0.7, 1 - 1e-12])
    exact = np.where(q < 0.5, np.log(2 * q), -np.log(2 * (1 - q)))
    np.testing.assert_allclose(Laplace(0.0, 1.0).icdf(q), exact, rtol=1e-12, atol=1e-300)
    # Its derivative is the density everywhere, the median included (no NaN from the far branch).
    density = jax.vmap(jax.grad(Laplace(0.0, 1.0).cdf))(A([-800.0, -1.0, 0.0, 1.0, 800.0]))
    np.testing.assert_allclose(density, st.laplace.pdf([-800.0, -1.0, 0.0, 1.0, 800.0]), rtol=1e-12)


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_large_degrees_of_freedom_reach_the_normal(x64):
    """log Gamma((nu+1)/2) - log Gamma(nu/2) cancelled at large nu: df = 1e8 gave -9.78 for the
    normal's -0.919 at 0 in float32 (the MultivariateStudentT -19.6 for -1.84)."""
    from bayeskit.dist.multivariate_studentt import MultivariateStudentT

    tol = 1e-12 if x64 else 2e-6
    with jax.enable_x64(x64):
        for df in (1e4, 1e6, 1e8):
            x = jnp.array([0.0, 0.7, -2.5])
            np.testing.assert_allclose(
                StudentT(df).log_prob(x), st.t(df).logpdf(np.asarray(x)), rtol=max(tol, 1e-6 / df**0.5)
            )
        mvt = MultivariateStudentT(1e8, jnp.zeros(2), jnp.eye(2))
        np.testing.assert_allclose(mvt.log_prob(jnp.zeros(2)), -np.log(2 * np.pi), rtol=max(tol, 1e-7))


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_studentt_cdf_at_large_degrees_of_freedom_matches_scipy(x64):
    """JAX's betainc lost digits in proportion to df: relative errors of 4e-12 at df = 1e3 and
    1e-6 at 1e8 in float64, 1e-3 at 1e3 and 20 at 1e8 in float32, where the normal deviate of
    Hill's transform is accurate to rounding."""
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        eps = float(jnp.finfo(dtype).eps)
        tiny = float(jnp.finfo(dtype).tiny)
        # One compiled function for every df (eager dispatch of the cdf's many ops was slow).
        cdf = jax.jit(lambda df, x: StudentT(df, jnp.zeros((), dtype), jnp.ones((), dtype)).cdf(x))
        for df in (1e3, 1e4, 1e6, 1e8):
            x = jnp.linspace(-3, 3, 61, dtype=dtype)
            ref = st.t(df).cdf(np.asarray(x, np.float64))
            got = np.asarray(cdf(jnp.asarray(df, dtype), x), np.float64)
            np.testing.assert_allclose(got, ref, rtol=64 * eps, err_msg=f"df={df}")
            # Into the tails, the relative error may grow like x^2 eps (the conditioning of the
            # normal cdf at the deviate), as far as the cdf is representable; in float64 betainc
            # still serves the far tails below df = 1e4, good to about 5e-13 there.
            x = jnp.linspace(-40, 40, 161, dtype=dtype)
            ref = st.t(df).cdf(np.asarray(x, np.float64))
            got = np.asarray(cdf(jnp.asarray(df, dtype), x), np.float64)
            keep = ref > tiny
            rel = np.abs(got[keep] - ref[keep]) / ref[keep]
            floor = 1e-12 if x64 else 0.0
            assert np.all(rel <= eps * (64 + 8 * np.asarray(x, np.float64)[keep] ** 2) + floor), f"df={df}"


def test_studentt_cdf_derivative_is_the_density():
    """The derivative at x = loc was NaN: nu / (nu + t^2) rounds to 1 there, where betainc's
    derivative is infinite (and 0 * inf at t = 0)."""
    x = jnp.array([-7.0, -1.0, -1e-9, 0.0, 1e-9, 0.4, 3.0])

    @jax.jit  # one compile for every df
    def derivatives(df):
        d = StudentT(df, loc=0.5, scale=2.0)
        g = jax.vmap(jax.grad(d.cdf))(x + 0.5)
        g_loc = jax.grad(lambda loc: StudentT(df, loc, 2.0).cdf(0.5))(0.5)
        ends = jax.vmap(jax.grad(d.cdf))(jnp.array([-jnp.inf, jnp.inf]))
        return g, jnp.exp(d.log_prob(x + 0.5)), g_loc, -jnp.exp(d.log_prob(0.5)), ends

    for df in (1.0, 5.0, 300.0, 1e4, 1e8):
        g, density, g_loc, minus_density, ends = derivatives(jnp.asarray(df))
        np.testing.assert_allclose(g, density, rtol=1e-9, err_msg=f"df={df}")
        np.testing.assert_allclose(g_loc, minus_density, rtol=1e-9)
        np.testing.assert_array_equal(ends, [0.0, 0.0])


def test_parameters_that_do_not_broadcast_are_named_at_construction():
    with pytest.raises(ValueError, match=r"Normal: the parameters' shapes \{'loc': \(3,\), 'scale': \(2,\)\}"):
        Normal(jnp.zeros(3), jnp.ones(2))
    with pytest.raises(ValueError, match="Gamma: the parameters' shapes"):
        Gamma(jnp.ones(3), jnp.ones(2))
    assert Normal(jnp.zeros(3), 1.0).batch_shape == (3,)


@pytest.mark.parametrize(
    "key, sample_shape, error, match",
    [
        (0, (), TypeError, r"Normal.sample: `key` must be one JAX random key, got the int 0"),
        (jax.random.split(KEY, 3), (), TypeError, r"got a batch of \(3,\) keys"),
        (KEY, (-1,), ValueError, r"Normal.sample: `sample_shape` must be a tuple of non-negative"),
        (KEY, (2.5,), TypeError, r"`sample_shape` must be a tuple of non-negative integers"),
        (KEY, "10", TypeError, r"got '10'"),
    ],
)
def test_sample_names_a_bad_key_or_sample_shape(key, sample_shape, error, match):
    with pytest.raises(error, match=match):
        Normal(0.0, 1.0).sample(key, sample_shape)


def test_values_may_be_lists_and_anything_else_is_named():
    d = Normal(0.0, 1.0)
    np.testing.assert_allclose(d.log_prob([0.0, 1.0]), d.log_prob(jnp.array([0.0, 1.0])))
    np.testing.assert_allclose(d.cdf((0.0, 1.0)), d.cdf(jnp.array([0.0, 1.0])))
    np.testing.assert_allclose(d.icdf([0.5]), [0.0], atol=1e-12)
    np.testing.assert_allclose(Gamma(2.0, 1.0).log_prob([[1, 2]]), Gamma(2.0, 1.0).log_prob(jnp.array([[1.0, 2.0]])))
    for bad, shown in [("a", "'a'"), (None, "None"), ([1.0, "b"], r"\[1.0, 'b'\]"), ([[1.0], [1.0, 2.0]], "")]:
        with pytest.raises(TypeError, match=rf"Normal.log_prob: `x` must be a number or an array of numbers.*{shown}"):
            d.log_prob(bad)
    with pytest.raises(TypeError, match=r"Laplace.icdf: `q` must be a number"):
        Laplace(0.0, 1.0).icdf("0.5")
    with pytest.raises(TypeError, match=r"Beta.log_prob: `x` must be"):
        Beta(2.0, 2.0).log_prob(np.array(["x"]))
    # Inside a trace the value passes straight through.
    assert jax.grad(lambda x: d.log_prob(x))(1.0) == -1.0
