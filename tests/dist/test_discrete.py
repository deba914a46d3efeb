"""Discrete families: exact checks against scipy.stats, goodness of fit of the samplers, shapes,
parameter validation, probs/logits equivalence and jit invariance."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

from bayeskit.dist._poisson_sampler import poisson_sample
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.binomial import Binomial
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.dirichletmultinomial import DirichletMultinomial
from bayeskit.dist.multinomial import Multinomial
from bayeskit.dist.negativebinomial import NegativeBinomial, NegativeBinomial2
from bayeskit.dist.poisson import Poisson

NUM_DRAWS = 4000
P_MIN = 1e-5


def _close(actual, desired, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol)


# --- scalar families against scipy -------------------------------------------------------------

N_BIN = np.array([0.0, 1.0, 7.0, 20.0])
P_BIN = np.array([0.3, 0.05, 0.5, 0.9])
R_NB = np.array([0.5, 3.0, 10.0])
P_NB = np.array([0.1, 0.5, 0.9])
MU_NB2 = np.array([0.3, 4.0, 50.0])
PHI_NB2 = np.array([0.7, 2.0, 1000.0])
RATES = np.array([0.0, 0.5, 3.0, 40.0])

# (name, distribution, the matching scipy frozen distribution, values to evaluate)
SCALAR_CASES = [
    ("bernoulli", Bernoulli(probs=[0.1, 0.5, 0.97]), st.bernoulli(np.array([0.1, 0.5, 0.97])), [0, 1]),
    ("binomial", Binomial(N_BIN, probs=P_BIN), st.binom(N_BIN, P_BIN), range(22)),
    ("poisson", Poisson(RATES), st.poisson(RATES), range(80)),
    # scipy's nbinom counts failures before n successes: swap the roles of the probabilities.
    ("negbinomial", NegativeBinomial(R_NB, probs=P_NB), st.nbinom(R_NB, 1 - P_NB), range(120)),
    (
        "negbinomial2",
        NegativeBinomial2(MU_NB2, PHI_NB2),
        st.nbinom(PHI_NB2, PHI_NB2 / (PHI_NB2 + MU_NB2)),
        range(150),
    ),
]
SCALAR_IDS = [c[0] for c in SCALAR_CASES]


@pytest.mark.parametrize("name,d,ref,values", SCALAR_CASES, ids=SCALAR_IDS)
def test_scalar_log_prob_matches_scipy(name, d, ref, values):
    x = np.asarray(list(values), dtype=float)[:, None]
    lp = d.log_prob(x)
    assert lp.shape == (len(x),) + tuple(d.batch_shape)
    _close(lp, ref.logpmf(x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,d,ref,values", SCALAR_CASES, ids=SCALAR_IDS)
def test_scalar_mean_variance_match_scipy(name, d, ref, values):
    _close(d.mean, ref.mean(), rtol=1e-10)
    _close(d.variance, ref.var(), rtol=1e-10)


@pytest.mark.parametrize("name,d,ref,values", SCALAR_CASES[1:], ids=SCALAR_IDS[1:])
def test_scalar_cdf_matches_scipy(name, d, ref, values):
    x = np.concatenate([[-3.0, -0.5], np.arange(0.0, 25.0, 0.5), [200.0]])[:, None]
    _close(d.cdf(x), ref.cdf(x), rtol=1e-8, atol=1e-12)


def test_bernoulli_cdf():
    d = Bernoulli(probs=0.3)
    _close(d.cdf(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])), [0.0, 0.7, 0.7, 1.0, 1.0])


@pytest.mark.parametrize("name,d,ref,values", SCALAR_CASES, ids=SCALAR_IDS)
def test_scalar_log_prob_outside_support_is_minus_inf(name, d, ref, values):
    x = np.array([-1.0, 0.5, 2.5, -3.0])[:, None]
    lp = np.asarray(d.log_prob(x))
    assert np.all(lp == -np.inf)


def test_log_prob_above_upper_bound_is_minus_inf():
    assert float(Bernoulli(probs=0.4).log_prob(2)) == -np.inf
    assert float(Binomial(5, probs=0.4).log_prob(6)) == -np.inf
    assert float(Categorical(probs=[0.5, 0.5]).log_prob(2)) == -np.inf


def test_bernoulli_degenerate_probabilities():
    d = Bernoulli(probs=[0.0, 1.0])
    _close(d.log_prob(np.array([[0.0], [1.0]])), [[0.0, -np.inf], [-np.inf, 0.0]])
    _close(d.entropy(), [0.0, 0.0])
    assert np.all(np.asarray(d.sample(jax.random.key(0), (50,))) == [0.0, 1.0])


def test_binomial_degenerate_probabilities():
    d = Binomial(3, probs=[0.0, 1.0])
    _close(d.log_prob(np.array([[0.0], [3.0]])), [[0.0, -np.inf], [-np.inf, 0.0]])


def test_bernoulli_entropy_matches_scipy():
    p = np.array([0.01, 0.3, 0.5, 0.999])
    _close(Bernoulli(probs=p).entropy(), st.bernoulli(p).entropy(), rtol=1e-10)


def test_negativebinomial2_is_negativebinomial():
    mu, phi = 3.0, 1.5
    a = NegativeBinomial2(mu, phi)
    b = NegativeBinomial(phi, probs=mu / (mu + phi))
    x = np.arange(30.0)
    _close(a.log_prob(x), b.log_prob(x), rtol=1e-12)
    _close(a.mean, mu, rtol=1e-12)
    _close(a.concentration, phi)
    assert "NegativeBinomial2(mean=3" in repr(a)


# --- vector families against scipy -------------------------------------------------------------

CAT_PROBS = np.array([[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.25, 0.25]])


def test_categorical_log_prob_matches_probs():
    d = Categorical(probs=CAT_PROBS)
    x = np.arange(4.0)[:, None]
    with np.errstate(divide="ignore"):
        _close(d.log_prob(x), np.log(CAT_PROBS.T), rtol=1e-12)
    assert d.batch_shape == (2,)
    assert d.log_prob(np.array([-1.0, 1.5]))[0] == -np.inf
    assert np.all(np.asarray(d.log_prob(np.array([[-1.0], [1.5], [4.0]]))) == -np.inf)


def test_categorical_moments_and_entropy():
    d = Categorical(probs=CAT_PROBS)
    for row, mean, var, ent in zip(CAT_PROBS, d.mean, d.variance, d.entropy(), strict=True):
        ref = st.rv_discrete(values=(np.arange(4), row))
        _close(mean, ref.mean(), rtol=1e-12)
        _close(var, ref.var(), rtol=1e-10)
        _close(ent, st.entropy(row), rtol=1e-12)


def test_multinomial_log_prob_matches_scipy():
    p = np.array([[0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    n = np.array([[5.0], [0.0], [7.0]])  # batch (3, 2) with the rows of p
    d = Multinomial(n, probs=p)
    assert d.batch_shape == (3, 2) and d.event_shape == (3,)
    xs = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 4.0], [2.0, 2.0, 3.0]])
    for x in xs:
        lp = np.asarray(d.log_prob(x))
        assert lp.shape == (3, 2)
        for i, j in itertools.product(range(3), range(2)):
            _close(lp[i, j], st.multinomial(int(n[i, 0]), p[j]).logpmf(x), rtol=1e-10)
    _close(d.mean, n[..., None] * p, rtol=1e-12)
    _close(d.variance, n[..., None] * p * (1 - p), rtol=1e-10, atol=1e-14)


def test_dirichlet_multinomial_log_prob_matches_scipy():
    alpha = np.array([[0.5, 1.0, 2.0], [3.0, 0.2, 7.0]])
    d = DirichletMultinomial(alpha, 6)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    for x in [[0.0, 0.0, 6.0], [1.0, 2.0, 3.0], [6.0, 0.0, 0.0], [2.0, 2.0, 2.0]]:
        _close(d.log_prob(np.array(x)), st.dirichlet_multinomial(alpha, 6).logpmf(x), rtol=1e-10)
    ref = st.dirichlet_multinomial(alpha, 6)
    _close(d.mean, ref.mean(), rtol=1e-12)
    _close(d.variance, ref.var(), rtol=1e-10)


@pytest.mark.parametrize(
    "d",
    [
        Multinomial(4, probs=[0.5, 0.5]),
        DirichletMultinomial(jnp.array([1.0, 2.0]), 4),
    ],
    ids=["multinomial", "dirichletmultinomial"],
)
def test_count_vector_outside_support_is_minus_inf(d):
    bad = np.array([[1.0, 2.0], [5.0, -1.0], [1.5, 2.5], [4.0, 1.0]])
    assert np.all(np.asarray(d.log_prob(bad)) == -np.inf)
    assert np.all(np.isfinite(np.asarray(d.log_prob(np.array([[0.0, 4.0], [3.0, 1.0]])))))
    assert bool(d.support.check(jnp.array([1.0, 3.0]))) and not bool(d.support.check(jnp.array([1.0, 2.0])))


# --- samplers: shapes, goodness of fit, jit -----------------------------------------------------
#
# Compiling a sampler (binomial, Poisson, gamma) dominates this file's run time, so each family is
# compiled once: one jitted draw of NUM_DRAWS over a batch of two parameter settings serves the
# shape checks, the chi-square test of each batch member and the log_prob checks.


def _chi_square_p(draws, pmf, values):
    """Chi-square p-value of integer draws against ``pmf`` over ``values``, bins with expected >= 5.

    Values whose expected count is below 5, and everything outside ``values``, share one bin.
    """
    n = len(draws)
    observed = np.array([np.sum(draws == v) for v in values], dtype=float)
    expected = n * np.asarray(pmf, dtype=float)
    keep = expected >= 5
    obs, exp = list(observed[keep]), list(expected[keep])
    rest_obs, rest_exp = n - sum(obs), n - sum(exp)
    if rest_exp >= 5:
        obs.append(rest_obs)
        exp.append(rest_exp)
    else:  # too small to stand alone: fold it into the smallest bin
        i = int(np.argmin(exp))
        obs[i] += rest_obs
        exp[i] += rest_exp
    assert len(obs) >= 2, "the test needs at least two bins"
    return st.chisquare(obs, exp).pvalue


def _compositions(n, k):
    """All vectors of ``k`` nonnegative integers summing to ``n``."""
    for cut in itertools.combinations(range(n + k - 1), k - 1):
        edges = (-1,) + cut + (n + k - 1,)
        yield tuple(edges[i + 1] - edges[i] - 1 for i in range(k))


def _scalar_p(draws, ref):
    values = np.arange(int(ref.ppf(1 - 1e-9)) + 1)
    return _chi_square_p(draws, ref.pmf(values), values)


def _vector_p(draws, ref, n):
    """Chi-square over every possible count vector (small ``n`` and ``K``)."""
    outcomes = list(_compositions(n, draws.shape[-1]))
    codes = {o: i for i, o in enumerate(outcomes)}
    observed = np.array([codes[tuple(int(v) for v in row)] for row in draws])
    pmf = np.array([ref.pmf(np.array(o)) for o in outcomes])
    return _chi_square_p(observed, pmf, np.arange(len(outcomes)))


MULTI_PROBS = np.array([[0.2, 0.3, 0.5], [1 / (1 + np.e), 0.0, np.e / (1 + np.e)]])
DM_ALPHA = np.array([[0.7, 1.5, 3.0], [4.0, 0.3, 1.0]])

# (name, distribution with batch shape (2,), scipy reference for batch member j, event shape)
SAMPLER_CASES = [
    ("bernoulli", Bernoulli(probs=[0.3, 0.95]), lambda j: st.bernoulli([0.3, 0.95][j]), ()),
    (
        "binomial",  # small n and large n take different branches of the sampler
        Binomial(jnp.array([12.0, 400.0]), logits=jnp.array([-0.6, -1.0])),
        lambda j: st.binom([12, 400][j], 1 / (1 + np.exp([0.6, 1.0][j]))),
        (),
    ),
    ("poisson", Poisson(jnp.array([2.5, 60.0])), lambda j: st.poisson([2.5, 60.0][j]), ()),
    (
        "negbinomial",
        NegativeBinomial(jnp.array([2.5, 0.8]), probs=jnp.array([0.6, 0.2])),
        lambda j: st.nbinom([2.5, 0.8][j], [0.4, 0.8][j]),
        (),
    ),
    (
        "categorical",
        Categorical(probs=CAT_PROBS),
        lambda j: st.rv_discrete(values=(np.arange(4), CAT_PROBS[j])),
        (),
    ),
    (
        "multinomial",  # the second row has a category of probability 0
        Multinomial(jnp.array([4.0, 3.0]), logits=jnp.log(MULTI_PROBS)),
        lambda j: st.multinomial([4, 3][j], MULTI_PROBS[j]),
        (3,),
    ),
    (
        "dirichletmultinomial",
        DirichletMultinomial(DM_ALPHA, jnp.array([4.0, 2.0])),
        lambda j: st.dirichlet_multinomial(DM_ALPHA[j], [4, 2][j]),
        (3,),
    ),
]
SAMPLER_IDS = [c[0] for c in SAMPLER_CASES]

# NegativeBinomial2 inherits NegativeBinomial's sampler; test_negativebinomial2_is_negativebinomial
# checks the parameter mapping, so it is left out here to save a compilation.

# One jitted sampler for the module, so that tests reusing a distribution reuse its compilation.
# Passing the distribution through jit makes every parameter a tracer (total counts included), so
# this also checks that sampling needs no concrete Python numbers.
_sample_jit = jax.jit(lambda d, key: d.sample(key, (NUM_DRAWS,)))


@pytest.mark.parametrize("name,d,ref,event", SAMPLER_CASES, ids=SAMPLER_IDS)
def test_sampler(name, d, ref, event):
    assert d.batch_shape == (2,) and tuple(d.event_shape) == event
    assert d.is_discrete and not d.has_rsample and d.support.is_discrete
    key = jax.random.key(11)
    x = _sample_jit(d, key)
    assert x.shape == (NUM_DRAWS, 2) + event and x.dtype == jnp.float64
    assert jax.eval_shape(lambda k: d.sample(k), key).shape == (2,) + event
    assert jax.eval_shape(lambda k: d.sample(k, (5, 7)), key).shape == (5, 7, 2) + event
    assert d.mean.shape == (2,) + event and d.variance.shape == (2,) + event

    lp = d.log_prob(x)
    assert lp.shape == (NUM_DRAWS, 2) and np.all(np.isfinite(np.asarray(lp)))
    _close(jax.jit(lambda d, x: d.log_prob(x))(d, x), lp, rtol=1e-12)
    assert np.all(np.asarray(d.support.check(x)))

    draws = np.asarray(x)
    assert np.all(draws == np.floor(draws)) and np.all(draws >= 0)
    for j in range(2):
        if event:
            n = int(d.total_count[j])
            assert np.all(draws[:, j].sum(-1) == n)
            assert np.all(draws[:, j][:, np.asarray(d.mean[j]) == 0] == 0)  # probability-0 categories
            p = _vector_p(draws[:, j], ref(j), n)
        else:
            p = _scalar_p(draws[:, j], ref(j))
        assert p > P_MIN, f"batch member {j}: chi-square p = {p:.2g}"


# Eager sampling compiles afresh, so check it against jit on two families only: the simplest, and
# the one with control flow of its own (the binomial chain).
@pytest.mark.parametrize(
    "name,d,ref,event", [SAMPLER_CASES[0], SAMPLER_CASES[5]], ids=["bernoulli", "multinomial"]
)
def test_sample_jit_equals_eager(name, d, ref, event):
    key = jax.random.key(11)
    np.testing.assert_array_equal(np.asarray(d.sample(key, (NUM_DRAWS,))), np.asarray(_sample_jit(d, key)))


def test_sample_shapes_with_broadcast_batch():
    cases = [
        (Binomial(jnp.array([3.0, 4.0, 5.0]), probs=jnp.full((2, 1), 0.4)), (2, 3), ()),
        (NegativeBinomial(jnp.ones(3), logits=jnp.zeros((2, 1))), (2, 3), ()),
        (Categorical(logits=jnp.zeros((2, 3, 4))), (2, 3), ()),
        (Multinomial(jnp.array([3.0, 4.0, 5.0]), logits=jnp.zeros((2, 1, 4))), (2, 3), (4,)),
        (DirichletMultinomial(jnp.ones((2, 3, 4)), jnp.array([0.0, 4.0, 5.0])), (2, 3), (4,)),
    ]
    key = jax.random.key(2)
    for d, batch, event in cases:
        assert tuple(d.batch_shape) == batch and tuple(d.event_shape) == event
        x = jax.eval_shape(lambda k, d=d: d.sample(k, (5, 7)), key)
        assert x.shape == (5, 7) + batch + event
        x = jax.ShapeDtypeStruct((5, 1) + batch[1:] + event, jnp.float64)
        assert jax.eval_shape(d.log_prob, x).shape == (5,) + batch
        assert jax.eval_shape(lambda d=d: d.mean).shape == batch + event
        assert jax.eval_shape(lambda d=d: d.variance).shape == batch + event


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: Bernoulli(probs=1.2), "probs"),
        (lambda: Bernoulli(probs=[0.5, -0.1]), "probs"),
        (lambda: Bernoulli(logits=jnp.nan), "logits"),
        (lambda: Binomial(-1, probs=0.5), "total_count"),
        (lambda: Binomial(2.5, probs=0.5), "total_count"),
        (lambda: Binomial(jnp.inf, probs=0.5), "total_count"),
        (lambda: Binomial(3, probs=1.5), "probs"),
        (lambda: Poisson(-0.1), "rate"),
        (lambda: Poisson(jnp.nan), "rate"),
        (lambda: NegativeBinomial(0.0, probs=0.5), "total_count"),
        (lambda: NegativeBinomial(2.0, probs=1.0), "probs"),
        (lambda: NegativeBinomial(2.0, logits=jnp.inf), "logits"),
        (lambda: NegativeBinomial2(-1.0, 2.0), "mean"),
        (lambda: NegativeBinomial2(1.0, 0.0), "concentration"),
        (lambda: Categorical(probs=[0.5, 0.6]), "probs"),
        (lambda: Categorical(probs=[1.2, -0.2]), "probs"),
        (lambda: Categorical(probs=0.5), "probs"),
        (lambda: Categorical(logits=[jnp.nan, 0.0]), "logits"),
        (lambda: Categorical(logits=[-jnp.inf, -jnp.inf]), "logits"),
        (lambda: Multinomial(-2, probs=[0.5, 0.5]), "total_count"),
        (lambda: Multinomial(3, probs=[0.5, 0.4]), "probs"),
        (lambda: DirichletMultinomial(jnp.array([1.0, 0.0]), 3), "concentration"),
        (lambda: DirichletMultinomial(2.0, 3), "concentration"),
        (lambda: DirichletMultinomial(jnp.array([1.0, 1.0]), 1.5), "total_count"),
    ],
)
def test_invalid_parameters_raise_naming_them(make, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        make()


@pytest.mark.parametrize("cls", [Bernoulli, Categorical])
def test_exactly_one_of_probs_and_logits(cls):
    with pytest.raises(ValueError, match="`probs` and `logits`.*neither"):
        cls()
    with pytest.raises(ValueError, match="`probs` and `logits`.*both"):
        cls(probs=[0.5, 0.5], logits=[0.0, 0.0])


@pytest.mark.parametrize("cls", [Binomial, NegativeBinomial, Multinomial])
def test_exactly_one_of_probs_and_logits_with_count(cls):
    with pytest.raises(ValueError, match="`probs` and `logits`"):
        cls(3)


def test_traced_parameters_are_not_checked():
    # Inside jit the values are unknown; construction must not fail or force concreteness.
    f = jax.jit(lambda p: Bernoulli(probs=p).log_prob(1.0))
    f(jnp.array(1.5))


# --- probs/logits equivalence ------------------------------------------------------------------


def test_probs_logits_equivalence():
    p = np.array([0.05, 0.4, 0.93])
    logit = np.log(p) - np.log1p(-p)
    x = np.arange(6.0)[:, None]
    pairs = [
        (Bernoulli(probs=p), Bernoulli(logits=logit), np.array([[0.0], [1.0]])),
        (Binomial(5, probs=p), Binomial(5, logits=logit), x),
        (NegativeBinomial(2.0, probs=p), NegativeBinomial(2.0, logits=logit), x),
    ]
    for a, b, values in pairs:
        _close(a.log_prob(values), b.log_prob(values), rtol=1e-10)
        _close(a.probs, p, rtol=1e-12)
        _close(b.probs, p, rtol=1e-12)
        _close(a.mean, b.mean, rtol=1e-10)
    q = np.array([0.2, 0.3, 0.5])
    logits = np.log(q) + 1.7  # unnormalised
    a, b = Categorical(probs=q), Categorical(logits=logits)
    _close(a.log_prob(np.arange(3.0)), b.log_prob(np.arange(3.0)), rtol=1e-12)
    _close(b.probs, q, rtol=1e-12)
    a, b = Multinomial(4, probs=q), Multinomial(4, logits=logits)
    counts = np.array([1.0, 1.0, 2.0])
    _close(a.log_prob(counts), b.log_prob(counts), rtol=1e-12)


def test_log_prob_gradient_in_probs_is_finite():
    def total(p):
        return (
            Bernoulli(probs=p).log_prob(1.0)
            + Binomial(10, probs=p).log_prob(0.0)
            + NegativeBinomial(3.0, probs=p).log_prob(4.0)
        )

    g = jax.jit(jax.grad(total))(0.3)
    _close(g, 1 / 0.3 - 10 / 0.7 + 4 / 0.3 - 3 / 0.7, rtol=1e-10)


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_large_counts_and_concentrations_without_cancellation(x64):
    """The coefficients were differences of large log-gammas: NegativeBinomial2 at
    concentration 1e7 gave log-probabilities above 0 (its Poisson limit is -2.29 at 5)."""
    tol = 1e-9 if x64 else 1e-5
    with jax.enable_x64(x64):
        k = jnp.array([0.0, 1.0, 5.0])
        np.testing.assert_allclose(
            NegativeBinomial2(3.0, 1e7).log_prob(k), st.poisson(3.0).logpmf(np.asarray(k)), rtol=max(tol, 1e-6)
        )
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            Binomial(10**6, probs=0.5).log_prob(500000.0), st.binom(10**6, 0.5).logpmf(500000), rtol=1e-10
        )


def test_infinite_values_have_zero_density():
    """+inf is outside every count support and has density 0 under Gamma (NaN before)."""
    from bayeskit.dist.gamma import Gamma

    for d in (Poisson(2.0), NegativeBinomial2(2.0, 3.0), Gamma(2.0, 1.0)):
        assert float(d.log_prob(jnp.inf)) == -np.inf


# --- derivatives at the ends of the parameter space --------------------------------------------

LOG2, LOG3 = np.log(2.0), np.log(3.0)

# (case, log-probability as a function of one parameter, that parameter at the boundary, the
# log-probability there, its derivative there). Each log-probability is finite and smooth in the
# parameter there; its derivative was NaN: 0 * inf through the infinite logit of a probability of
# 0 or 1, or xlogy's 0 / 0 at a Poisson rate of 0.
BOUNDARY_CASES = [
    ("bernoulli p=1 x=1", lambda p: Bernoulli(probs=p).log_prob(1.0), 1.0, 0.0, 1.0),
    ("bernoulli p=0 x=0", lambda p: Bernoulli(probs=p).log_prob(0.0), 0.0, 0.0, -1.0),
    ("binomial p=0 k=0", lambda p: Binomial(5, probs=p).log_prob(0.0), 0.0, 0.0, -5.0),
    ("binomial p=1 k=n", lambda p: Binomial(5, probs=p).log_prob(5.0), 1.0, 0.0, 5.0),
    ("binomial n=0", lambda p: Binomial(0, probs=p).log_prob(0.0), 0.0, 0.0, 0.0),
    ("negbinomial p=0 k=0", lambda p: NegativeBinomial(2.0, probs=p).log_prob(0.0), 0.0, 0.0, -2.0),
    ("negbinomial2 d/dmean", lambda m: NegativeBinomial2(m, 2.0).log_prob(0.0), 0.0, 0.0, -1.0),
    ("negbinomial2 d/dconc", lambda c: NegativeBinomial2(0.0, c).log_prob(0.0), 2.0, 0.0, 0.0),
    ("poisson rate=0 k=0", lambda r: Poisson(r).log_prob(0.0), 0.0, 0.0, -1.0),
    # log p_x - log sum_k p_k: derivative 1 / p_x - 1 for the observed category, -1 for the others.
    ("categorical", lambda p: Categorical(probs=p).log_prob(0.0), [0.5, 0.5, 0.0], -LOG2, [1.0, -1.0, -1.0]),
    (
        "multinomial",
        lambda p: Multinomial(3, probs=p).log_prob(jnp.array([1.0, 2.0, 0.0])),
        [0.5, 0.5, 0.0],
        LOG3 - 3 * LOG2,
        [2.0 - 3.0, 4.0 - 3.0, -3.0],
    ),
]


@pytest.mark.parametrize("case,f,param,value,grad", BOUNDARY_CASES, ids=[c[0] for c in BOUNDARY_CASES])
def test_log_prob_derivative_at_boundary_parameters_is_finite(case, f, param, value, grad):
    param = jnp.asarray(param)
    v, g = jax.value_and_grad(f)(param)
    _close(v, value, atol=1e-12)
    _close(g, grad, atol=1e-12)
    _close(jax.jit(jax.grad(f))(param), grad, atol=1e-12)
    if not case.startswith(("bernoulli", "binomial", "negbinomial ")):
        # Forward mode too; for scalar probabilities it stays 0/0 at exactly 0 and 1 (a mask
        # that fixed it changed the rounding of interior gradients under jit).
        _close(jax.jacfwd(f)(param), grad, atol=1e-12)


def test_log_prob_derivative_where_the_value_is_minus_inf_is_infinite_not_nan():
    cases = [
        (lambda p: Bernoulli(probs=p).log_prob(0.0), 1.0, -np.inf),
        (lambda p: Bernoulli(probs=p).log_prob(1.0), 0.0, np.inf),
        (lambda p: Binomial(5, probs=p).log_prob(3.0), 1.0, -np.inf),
        (lambda p: NegativeBinomial(2.0, probs=p).log_prob(1.0), 0.0, np.inf),
        (lambda r: Poisson(r).log_prob(2.0), 0.0, np.inf),
    ]
    for f, param, grad in cases:
        v, g = jax.value_and_grad(f)(param)
        assert float(v) == -np.inf and float(g) == grad
    v, g = jax.value_and_grad(lambda p: Categorical(probs=p).log_prob(1.0))(jnp.array([1.0, 0.0]))
    assert float(v) == -np.inf and not np.any(np.isnan(g))


def test_log_prob_derivative_off_the_support_at_boundary_parameters_is_zero():
    # The value is -inf whatever the parameter is.
    for f, param in [
        (lambda p: Bernoulli(probs=p).log_prob(2.0), 1.0),
        (lambda p: Binomial(5, probs=p).log_prob(7.0), 1.0),
        (lambda r: Poisson(r).log_prob(1.5), 0.0),
        (lambda p: Categorical(probs=p).log_prob(5.0), jnp.array([1.0, 0.0])),
    ]:
        v, g = jax.value_and_grad(f)(param)
        assert float(v) == -np.inf
        np.testing.assert_array_equal(g, np.zeros_like(g))


def test_boundary_derivatives_in_a_batch_leave_the_others_alone():
    p = jnp.array([0.0, 0.3, 1.0])
    x = jnp.array([0.0, 1.0, 1.0])
    g = jax.grad(lambda p: jnp.sum(Bernoulli(probs=p).log_prob(x)))(p)
    _close(g, [-1.0, 1 / 0.3, 1.0])
    g = jax.grad(lambda p: jnp.sum(Categorical(probs=p).log_prob(jnp.array([0.0, 1.0]))))(
        jnp.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    )
    _close(g, [[1.0, -1.0, -1.0], [-1.0, 1 / 0.3 - 1.0, -1.0]])


def test_probs_give_the_values_and_interior_derivatives_of_their_logits_bit_for_bit():
    """Given probs, log_prob and its derivative in the interior are computed exactly as from the
    logits made from those probs, as they were before the boundary derivatives were added (eager
    JAX runs one operation at a time, so the comparison is exact: no fusion, no contraction)."""
    p = jnp.array([0.013, 0.3, 0.5, 0.77, 0.999])
    x01, k = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0]), jnp.array([0.0, 3.0, 7.0, 2.0, 9.0])
    scalar = [
        (lambda p, logit: Bernoulli(probs=p) if logit is None else Bernoulli(logits=logit), x01),
        (lambda p, logit: Binomial(9.0, probs=p) if logit is None else Binomial(9.0, logits=logit), k),
        (
            lambda p, logit: (
                NegativeBinomial(2.5, probs=p) if logit is None else NegativeBinomial(2.5, logits=logit)
            ),
            k,
        ),
    ]
    for make, x in scalar:
        by_probs = lambda p: make(p, None).log_prob(x)  # noqa: B023, E731
        by_logits = lambda p: make(None, jnp.log(p) - jnp.log1p(-p)).log_prob(x)  # noqa: B023, E731
        np.testing.assert_array_equal(by_probs(p), by_logits(p))
        np.testing.assert_array_equal(
            jax.grad(lambda p: jnp.sum(by_probs(p)))(p),  # noqa: B023
            jax.grad(lambda p: jnp.sum(by_logits(p)))(p),  # noqa: B023
        )
    mu = jnp.array([0.2, 1.0, 4.0, 30.0, 2.0])
    by_mean = lambda mu: NegativeBinomial2(mu, 1.5).log_prob(k)  # noqa: E731
    by_logits = lambda mu: NegativeBinomial(1.5, logits=jnp.log(mu) - jnp.log(1.5)).log_prob(k)  # noqa: E731
    np.testing.assert_array_equal(by_mean(mu), by_logits(mu))
    np.testing.assert_array_equal(
        jax.grad(lambda m: jnp.sum(by_mean(m)))(mu), jax.grad(lambda m: jnp.sum(by_logits(m)))(mu)
    )
    q = jnp.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    for by_probs, by_logits in [
        (
            lambda q: Categorical(probs=q).log_prob(jnp.array([2.0, 0.0])),
            lambda q: Categorical(logits=jnp.log(q)).log_prob(jnp.array([2.0, 0.0])),
        ),
        (
            lambda q: Multinomial(4, probs=q).log_prob(jnp.array([1.0, 0.0, 3.0])),
            lambda q: Multinomial(4, logits=jnp.log(q)).log_prob(jnp.array([1.0, 0.0, 3.0])),
        ),
    ]:
        np.testing.assert_array_equal(by_probs(q), by_logits(q))
        np.testing.assert_array_equal(
            jax.grad(lambda q: jnp.sum(by_probs(q)))(q),  # noqa: B023
            jax.grad(lambda q: jnp.sum(by_logits(q)))(q),  # noqa: B023
        )
    rate = jnp.array([0.3, 2.0, 11.0])
    counts = jnp.array([0.0, 3.0, 9.0])
    np.testing.assert_array_equal(
        jax.grad(lambda r: jnp.sum(Poisson(r).log_prob(counts)))(rate), counts / rate - 1.0
    )


def test_concrete_jax_array_parameters_are_checked_inside_jit():
    """The count and logit checks ran jax.numpy on the host copy: inside jit that staged a tracer
    (TracerArrayConversionError) for a concrete JAX array, e.g. one closed over."""
    n = jnp.array([0.0, 1.0, 2.0])
    lp = jax.jit(lambda p: Binomial(n, probs=p).log_prob(0.0))(0.3)
    _close(lp, np.log(0.7) * np.asarray(n), rtol=1e-12)
    logits = jnp.array([0.0, 1.0])
    assert jax.jit(lambda x: Bernoulli(logits=logits).log_prob(x))(1.0).shape == (2,)
    bad = jnp.array([1.5])
    with pytest.raises(ValueError, match="`total_count`"):
        jax.jit(lambda p: Binomial(bad, probs=p).log_prob(0.0))(0.3)


def test_poisson_draws_keep_their_variance_at_large_rates():
    """jax.random.poisson samples in float32 whatever the rate's dtype, and its acceptance test
    cancels: variance / rate came out 0.977 at rate 1e7 and 1.65 at 1e9 (1 +- 0.003 here)."""
    rates = jnp.array([30.0, 1e7, 1e9, 1e12])
    n = 200_000
    x = np.asarray(jax.jit(lambda k: Poisson(rates).sample(k, (n,)))(jax.random.key(5)), np.float64)
    rates = np.asarray(rates)
    z_mean = (x.mean(0) - rates) / np.sqrt(rates / n)
    z_var = (x.var(0) / rates - 1.0) / np.sqrt(2.0 / n)
    assert np.all(np.abs(z_mean) < 5) and np.all(np.abs(z_var) < 5), (z_mean, z_var)
    assert np.all(x == np.floor(x)) and np.all(x >= 0)
    # A gamma-Poisson mixture with a large mean: variance mu + mu^2 / r.
    mu, r = 1e8, 50.0
    y = np.asarray(jax.jit(lambda k: NegativeBinomial2(mu, r).sample(k, (n,)))(jax.random.key(6)), np.float64)
    assert abs(y.mean() - mu) < 5 * np.sqrt((mu + mu**2 / r) / n)
    np.testing.assert_allclose(y.var(), mu + mu**2 / r, rtol=0.03)


def test_poisson_draws_at_an_invalid_traced_rate_are_nan_without_hanging():
    # Parameters are checked only when concrete; under jit a NaN, infinite or negative rate must
    # still end the rejection loop (it ran forever), with NaN there and draws elsewhere.
    rates = jnp.array([jnp.nan, jnp.inf, -1.0, 3.0, 50.0])
    x = np.asarray(jax.jit(lambda k, r: poisson_sample(k, r, (4, 5)))(jax.random.key(0), rates))
    assert np.isnan(x[:, :3]).all() and np.isfinite(x[:, 3:]).all() and (x[:, 3:] >= 0).all()


def test_counts_may_be_lists_and_a_string_is_named():
    d = Poisson(3.0)
    np.testing.assert_allclose(d.log_prob([0, 2, 5]), d.log_prob(jnp.array([0, 2, 5])))
    with pytest.raises(TypeError, match=r"Poisson.log_prob: `x` must be a number or an array of numbers .*got '2'"):
        d.log_prob("2")
