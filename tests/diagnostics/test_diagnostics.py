"""Diagnostics: exact agreement with ArviZ (the reference implementation), shapes and errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from bayeskit import diagnostics as D

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # ArviZ announces its refactor with a FutureWarning on import
    import arviz as az

# ArviZ takes a numba path when numba is installed (the bench extra brings it in through PyMC), and
# that path's mcse_sd fails on arrays; the reference is ArviZ's plain NumPy code.
az.Numba.disable_numba()

RTOL = 1e-6


def _ar1(rng, num_chains, num_draws, phi, loc=0.0):
    noise = rng.normal(size=(num_chains, num_draws))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, num_draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x + np.asarray(loc).reshape(-1, 1)


def _draw_sets():
    rng = np.random.default_rng(20240601)
    return {
        "iid_normal": rng.normal(size=(4, 500)),
        "ar1": _ar1(rng, 4, 1000, 0.95),
        "antithetic": _ar1(rng, 4, 400, -0.7),
        "different_means": rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 1.0, 3.0])[:, None],
        # Stuck, far-apart chains: every autocorrelation pair stays positive, so the ESS sum runs
        # to the longest lag; 43 draws makes the split chains odd (21 draws) as well.
        "stuck_chains": _ar1(rng, 4, 43, 0.9, loc=[0.0, 20.0, 40.0, 60.0]),
        "cauchy": rng.standard_cauchy(size=(4, 500)),
        "ties": rng.integers(0, 6, size=(4, 200)).astype(float),
        "odd_draws": rng.normal(size=(3, 101)),
        "single_chain": _ar1(rng, 1, 300, 0.5),
        "few_draws": rng.normal(size=(2, 5)),
    }


DRAWS = _draw_sets()
VECTOR = np.random.default_rng(7).normal(size=(4, 300, 3)) * np.array([1.0, 10.0, 0.1]) + np.array(
    [0.0, 5.0, -1.0]
)
VECTOR[:, :, 1] += np.cumsum(np.random.default_rng(8).normal(size=(4, 300)), axis=1)  # wanders

REFERENCE = {
    D.rhat: lambda x: az.rhat(x, method="rank"),
    D.ess_bulk: lambda x: az.ess(x, method="bulk"),
    D.ess_tail: lambda x: az.ess(x, method="tail"),
    D.ess_mean: lambda x: az.ess(x, method="mean"),
    D.mcse_mean: lambda x: az.mcse(x, method="mean"),
    D.mcse_sd: lambda x: az.mcse(x, method="sd"),
    D.hdi: lambda x: az.hdi(np.ravel(x), hdi_prob=0.94),  # a 1-d array: the pooled draws
}


def _arviz(fn, x):
    return np.asarray(REFERENCE[fn](x), dtype=float)


@pytest.mark.parametrize("fn", list(REFERENCE), ids=lambda fn: fn.__name__)
@pytest.mark.parametrize("case", list(DRAWS))
def test_scalar_matches_arviz(fn, case):
    x = DRAWS[case]
    np.testing.assert_allclose(fn(x), _arviz(fn, x), rtol=RTOL, atol=0)


@pytest.mark.parametrize("fn", list(REFERENCE), ids=lambda fn: fn.__name__)
def test_vector_parameter_matches_arviz_elementwise(fn):
    result = fn(VECTOR)
    expected = np.stack([_arviz(fn, VECTOR[:, :, i]) for i in range(VECTOR.shape[2])])
    np.testing.assert_allclose(result, expected, rtol=RTOL, atol=0)


def test_hdi_other_probability_matches_arviz():
    x = DRAWS["cauchy"]
    np.testing.assert_allclose(D.hdi(x, prob=0.5), az.hdi(x.ravel(), hdi_prob=0.5), rtol=RTOL)


def test_ebfmi_matches_arviz():
    rng = np.random.default_rng(3)
    energy = np.stack([_ar1(rng, 1, 500, phi)[0] for phi in (0.0, 0.5, 0.9, 0.99)])
    np.testing.assert_allclose(D.ebfmi(energy), az.bfmi(energy), rtol=RTOL)
    assert D.ebfmi(energy).shape == (4,)


def test_bad_mixing_is_flagged():
    assert D.rhat(DRAWS["different_means"]) > 1.1
    assert D.rhat(DRAWS["iid_normal"]) < 1.01
    assert D.ess_bulk(DRAWS["ar1"]) < 0.1 * DRAWS["ar1"].size


def test_summary_matches_arviz():
    rng = np.random.default_rng(11)
    draws = {
        "mu": DRAWS["ar1"][:, :300],
        "theta": VECTOR,
        "L": rng.standard_cauchy(size=(4, 300, 2, 2)),
    }
    table = D.summary(draws)
    expected = az.summary(draws, hdi_prob=0.94, round_to="none")
    expected.index = [name.replace(", ", ",") for name in expected.index]
    assert list(table.index) == [
        "mu",
        "theta[0]",
        "theta[1]",
        "theta[2]",
        "L[0,0]",
        "L[0,1]",
        "L[1,0]",
        "L[1,1]",
    ]
    assert list(table.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(table, expected.loc[table.index], check_exact=False, rtol=RTOL, atol=0)


def test_summary_names_hdi_columns_from_prob():
    table = D.summary({"x": DRAWS["iid_normal"]}, prob=0.9)
    assert list(table.columns[2:4]) == ["hdi_5%", "hdi_95%"]
    expected = az.summary({"x": DRAWS["iid_normal"]}, hdi_prob=0.9, round_to="none")
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=RTOL)


def test_summary_of_nothing_is_an_empty_table():
    table = D.summary({})
    assert table.shape == (0, 9)


@pytest.mark.parametrize(
    ("fn", "shape"),
    [
        (D.rhat, ()),
        (D.ess_bulk, ()),
        (D.ess_tail, ()),
        (D.ess_mean, ()),
        (D.mcse_mean, ()),
        (D.mcse_sd, ()),
        (D.hdi, (2,)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_result_shapes(fn, shape):
    rng = np.random.default_rng(0)
    assert np.shape(fn(rng.normal(size=(2, 50)))) == shape
    assert np.shape(fn(rng.normal(size=(2, 50, 3, 2)))) == (3, 2) + shape
    assert np.shape(fn(rng.normal(size=(2, 50, 0)))) == (0,) + shape


def test_constant_draws_behave_like_arviz():
    x = np.full((4, 100), 2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = {fn: fn(x) for fn in REFERENCE}
    assert np.isnan(results[D.rhat])
    assert np.isnan(results[D.mcse_sd])
    for fn in (D.ess_bulk, D.ess_tail, D.ess_mean, D.mcse_mean, D.hdi):
        np.testing.assert_allclose(results[fn], _arviz(fn, x), rtol=RTOL)


def test_nan_draws_give_nan_with_one_warning_naming_the_first():
    """NaN diagnostics (as ArviZ's) came without a word; now each call says where the NaN is."""
    x = DRAWS["iid_normal"][:, :, None].repeat(2, axis=2)
    x[1, 7, 0] = np.nan
    for fn in REFERENCE:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(x)
        assert np.all(np.isnan(result[0])), fn.__name__
        assert np.all(np.isfinite(result[1])), fn.__name__
        [w] = caught  # ours only, no NumPy "invalid value" on the way
        assert w.category is RuntimeWarning and w.filename == __file__
        assert (
            f"{fn.__name__}: `x` holds 1 NaN or infinite draw(s) (the first at chain 1, draw 7, element (0,))"
            in str(w.message)
        )
    with pytest.warns(RuntimeWarning, match=r"summary: `draws\['x'\]` holds 1 NaN"):
        table = D.summary({"x": x})
    assert table.loc["x[0]"].isna().all()
    assert table.loc["x[1]"].notna().all()


def test_single_chain_rhat_is_nan_like_arviz():
    assert np.isnan(D.rhat(DRAWS["single_chain"]))


def test_accepts_lists_ints_and_jax_arrays():
    import jax.numpy as jnp

    x = DRAWS["iid_normal"]
    np.testing.assert_allclose(D.ess_bulk(jnp.asarray(x)), D.ess_bulk(x), rtol=1e-12)
    np.testing.assert_allclose(D.rhat(x.tolist()), D.rhat(x), rtol=1e-12)
    assert np.isfinite(D.ess_bulk(DRAWS["ties"].astype(int)))


@pytest.mark.parametrize("fn", [*REFERENCE, D.ebfmi], ids=lambda fn: fn.__name__)
def test_shape_errors_name_the_argument(fn):
    argument = "energy" if fn is D.ebfmi else "x"
    with pytest.raises(ValueError, match=rf"`{argument}`.*\[chain, draw"):
        fn(np.zeros(100))
    with pytest.raises(ValueError, match=rf"`{argument}` has 3 draws.*at least 4"):
        fn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"`{argument}` has no chains"):
        fn(np.zeros((0, 10)))
    with pytest.raises(TypeError, match=rf"`{argument}` must hold real numbers"):
        fn(np.full((2, 10), "a"))


def test_ebfmi_rejects_parameter_axes():
    with pytest.raises(ValueError, match=r"`energy` must have shape \[chain, draw\]"):
        D.ebfmi(np.zeros((2, 10, 3)))


@pytest.mark.parametrize("prob", [0.0, 1.0, -0.5, 1.5])
def test_probability_must_lie_in_the_open_unit_interval(prob):
    with pytest.raises(ValueError, match="`prob`"):
        D.hdi(DRAWS["iid_normal"], prob=prob)
    with pytest.raises(ValueError, match="`prob`"):
        D.summary({"x": DRAWS["iid_normal"]}, prob=prob)


def test_summary_errors():
    with pytest.raises(TypeError, match="`draws` must be a mapping"):
        D.summary(DRAWS["iid_normal"])
    with pytest.raises(ValueError, match=r"`draws\['sigma'\]` has 2 draws"):
        D.summary({"mu": DRAWS["iid_normal"], "sigma": np.ones((4, 2))})


def test_average_ranks_match_scipy_with_and_without_ties():
    from scipy.stats import rankdata

    from bayeskit.diagnostics._rank_normal import average_ranks

    rng = np.random.default_rng(3)
    continuous = rng.normal(size=(3, 50))  # no ties: the inverse-permutation path
    tied = np.concatenate([continuous[:2], rng.integers(0, 4, size=(1, 50)).astype(float)])  # one tied row
    for values in (continuous, tied):
        np.testing.assert_array_equal(average_ranks(values), rankdata(values, axis=-1))


def test_normal_quantiles_match_scipy_on_both_paths(monkeypatch):
    from scipy.special import ndtri

    from bayeskit.diagnostics import _rank_normal

    p = np.concatenate(
        [
            [0.0, 1e-300, 1e-20, 1e-8, 0.02425, 0.5, 0.97575, 1.0 - 1e-12, 1.0 - 2.0**-53, 1.0, np.nan],
            np.random.default_rng(4).uniform(size=1000),
            (np.arange(8001) / 2.0 - 0.375) / 4000.25,  # a score table: its first entry is negative
        ]
    )
    expected = ndtri(p)
    for limit in (_rank_normal._STDLIB_QUANTILES_UP_TO, 10):  # the standard library's, then SciPy's
        monkeypatch.setattr(_rank_normal, "_STDLIB_QUANTILES_UP_TO", limit)
        got = _rank_normal.normal_quantiles(p)
        assert got.dtype == np.float64 and got.shape == p.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])
        finite = np.isfinite(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-14, atol=1e-15)


def test_posterior_check_names_nan_draws_and_which_ess_is_low():
    from bayeskit import Posterior

    rng = np.random.default_rng(3)
    mu = rng.normal(size=(4, 50))
    sticky = np.cumsum(rng.normal(size=(4, 50)), axis=1)  # a random walk: low bulk and tail ESS
    post = Posterior({"mu": mu, "logmu": np.where(mu > 0, np.abs(mu), np.nan), "walk": sticky})
    messages = post.check()
    assert any("NaN or infinite draws of logmu" in m for m in messages)
    [ess] = [m for m in messages if "effective sample size" in m]
    assert "(bulk or tail) below 400" in ess and "walk (bulk " in ess and ", tail " in ess
    assert "logmu" not in ess  # NaN draws are reported once, not as a low ESS
    assert list(post.summary(var_names="mu").index) == ["mu"]  # a single name, not its letters


def test_posterior_warnings_point_at_the_callers_line():
    from bayeskit import Posterior

    post = Posterior({"x": np.full((2, 10), np.nan)}, warnings=["a message"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post.warn()
    assert caught and caught[0].filename == __file__
