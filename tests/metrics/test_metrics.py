"""bayeskit.metrics against direct computations (numpy, scipy, scikit-learn) and invariants."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from bayeskit import metrics

MODULES = [
    "regression",
    "log_likelihood",
    "crps",
    "calibration",
    "classification",
    "reliability",
    "information",
]


def gaussian_data(seed=0, n=50):
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=n)
    scale = rng.uniform(0.3, 2.0, size=n)
    y = loc + scale * rng.normal(size=n)
    return y, loc, scale


def class_data(seed=0, n=200, k=4):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    y = np.array([rng.choice(k, p=p) for p in probs])
    return y, probs


def sampled_probs(seed=0, s=30, n=20, k=3):
    return np.random.default_rng(seed).dirichlet(np.ones(k) * 0.7, size=(s, n))


# ----------------------------------------------------------------------------- regression


def test_rmse_and_mae_match_numpy():
    y, loc, _ = gaussian_data()
    np.testing.assert_allclose(metrics.rmse(y, loc), np.sqrt(np.mean((y - loc) ** 2)), rtol=1e-12)
    np.testing.assert_allclose(metrics.mae(y, loc), np.mean(np.abs(y - loc)), rtol=1e-12)


def test_gaussian_nll_matches_scipy():
    y, loc, scale = gaussian_data()
    expected = -np.mean(stats.norm.logpdf(y, loc, scale))
    np.testing.assert_allclose(metrics.gaussian_nll(y, loc, scale), expected, rtol=1e-12)
    # a scalar scale is a homoscedastic prediction
    expected = -np.mean(stats.norm.logpdf(y, loc, 0.7))
    np.testing.assert_allclose(metrics.gaussian_nll(y, loc, 0.7), expected, rtol=1e-12)


def test_mixture_nll_matches_logsumexp():
    rng = np.random.default_rng(1)
    m, n = 5, 40
    y = rng.normal(size=n)
    loc = rng.normal(size=(m, n))
    scale = rng.uniform(0.2, 1.5, size=(m, n))
    logpdf = stats.norm.logpdf(y, loc, scale)
    uniform = -np.mean(special.logsumexp(logpdf, axis=0) - np.log(m))
    np.testing.assert_allclose(metrics.mixture_nll(y, loc, scale), uniform, rtol=1e-12)
    weights = rng.dirichlet(np.ones(m))
    weighted = -np.mean(special.logsumexp(logpdf, axis=0, b=weights[:, None]))
    np.testing.assert_allclose(metrics.mixture_nll(y, loc, scale, weights), weighted, rtol=1e-12)
    per_point = rng.dirichlet(np.ones(m), size=n).T  # (M, n)
    expected = -np.mean(special.logsumexp(logpdf, axis=0, b=per_point))
    np.testing.assert_allclose(metrics.mixture_nll(y, loc, scale, per_point), expected, rtol=1e-12)
    # a component with weight 0 does not count, however it scores
    w0 = np.array([0.0, 0.25, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(
        metrics.mixture_nll(y, loc, scale, w0), metrics.mixture_nll(y, loc[1:], scale[1:]), rtol=1e-12
    )


def test_mixture_nll_is_finite_far_in_the_tails():
    # every component's density underflows to 0 in float64; log-sum-exp keeps the answer
    y = np.array([60.0])
    loc = np.array([[0.0], [1.0]])
    value = float(metrics.mixture_nll(y, loc, 1.0))
    expected = -special.logsumexp(stats.norm.logpdf(60.0, [0.0, 1.0], 1.0)) + np.log(2)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_sample_nll_is_gal_and_ghahramani_test_log_likelihood():
    rng = np.random.default_rng(2)
    t, n, tau = 100, 30, 4.0
    y = rng.normal(size=n)
    samples = y + rng.normal(scale=0.5, size=(t, n))
    # Gal & Ghahramani (2016), eq. 8
    ll = (
        special.logsumexp(-0.5 * tau * (y - samples) ** 2, axis=0)
        - np.log(t)
        - 0.5 * np.log(2 * np.pi)
        + 0.5 * np.log(tau)
    )
    np.testing.assert_allclose(metrics.sample_nll(y, samples, tau**-0.5), -np.mean(ll), rtol=1e-12)
    np.testing.assert_allclose(
        metrics.sample_nll(y, samples, 0.5), metrics.mixture_nll(y, samples, 0.5), rtol=1e-12
    )


# ----------------------------------------------------------------------------- CRPS


def crps_by_quadrature(cdf, y):
    """Integrate (F(x) - 1{x >= y})^2 over the real line, split at y where the step is."""
    below, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, limit=200)
    above, _ = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, np.inf, limit=200)
    return below + above


def test_crps_gaussian_matches_the_integral_definition():
    y, loc, scale = gaussian_data(n=6)
    by_integral = [crps_by_quadrature(stats.norm(m, s).cdf, v) for v, m, s in zip(y, loc, scale)]
    np.testing.assert_allclose(metrics.crps_gaussian(y, loc, scale), np.mean(by_integral), rtol=1e-8)


def test_crps_gaussian_of_a_centred_standard_normal():
    value = metrics.crps_gaussian(np.zeros(1), np.zeros(1), 1.0)
    np.testing.assert_allclose(value, (np.sqrt(2.0) - 1.0) / np.sqrt(np.pi), rtol=1e-12)


def crps_double_sum(y, samples, fair=False):
    s = samples.shape[0]
    accuracy = np.mean(np.abs(samples - y), axis=0)
    pairwise = np.abs(samples[:, None, :] - samples[None, :, :]).sum(axis=(0, 1))
    return np.mean(accuracy - pairwise / (2 * (s * (s - 1) if fair else s * s)))


@pytest.mark.parametrize("fair", [False, True])
def test_crps_samples_matches_the_double_sum(fair):
    rng = np.random.default_rng(3)
    y = rng.normal(size=25)
    samples = rng.normal(size=(57, 25)) * 1.3 + 0.2
    samples[3] = samples[4]  # ties are fine
    np.testing.assert_allclose(
        metrics.crps_samples(y, samples, fair=fair), crps_double_sum(y, samples, fair), rtol=1e-12
    )


def test_crps_samples_is_the_crps_of_the_empirical_cdf():
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(9, 1))
    y = 0.3

    def empirical_cdf(x):
        return np.mean(samples[:, 0] <= x)

    # the integrand is a step function: integrate it exactly piece by piece
    points = np.sort(np.concatenate([samples[:, 0], [y]]))
    total = 0.0
    for a, b in zip(points[:-1], points[1:]):
        mid = 0.5 * (a + b)
        total += (b - a) * (empirical_cdf(mid) - float(mid >= y)) ** 2
    np.testing.assert_allclose(metrics.crps_samples(np.array([y]), samples), total, rtol=1e-12)


def test_crps_samples_approaches_the_gaussian_closed_form():
    rng = np.random.default_rng(5)
    y, loc, scale = gaussian_data(n=20)
    samples = loc + scale * rng.normal(size=(20000, 20))
    np.testing.assert_allclose(
        metrics.crps_samples(y, samples, fair=True), metrics.crps_gaussian(y, loc, scale), rtol=0.02
    )


# ----------------------------------------------------------------------------- calibration


def test_coverage_matches_numpy():
    rng = np.random.default_rng(6)
    y = rng.normal(size=100)
    lower, upper = -1.0 + 0.1 * rng.normal(size=100), 1.0 + 0.1 * rng.normal(size=100)
    np.testing.assert_allclose(metrics.coverage(y, lower, upper), np.mean((lower <= y) & (y <= upper)))
    assert float(metrics.coverage(np.array([1.0]), 1.0, 1.0)) == 1.0  # ends are inside


def test_gaussian_coverage_matches_scipy_intervals():
    y, loc, scale = gaussian_data(n=300)
    levels = np.array([0.1, 0.5, 0.9, 0.99])
    expected = []
    for level in levels:
        lower, upper = stats.norm.interval(level, loc, scale)
        expected.append(np.mean((lower <= y) & (y <= upper)))
    np.testing.assert_allclose(metrics.gaussian_coverage(y, loc, scale, levels), expected)
    assert metrics.gaussian_coverage(y, loc, scale, 0.9).shape == ()


def test_calibrated_predictions_cover_their_level():
    n = 20000
    y, loc, scale = gaussian_data(seed=7, n=n)
    for level in (0.5, 0.8, 0.95):
        se = np.sqrt(level * (1 - level) / n)
        assert abs(float(metrics.gaussian_coverage(y, loc, scale, level)) - level) < 4 * se
    expected, observed = metrics.calibration_curve(y, loc, scale)
    assert float(np.max(np.abs(observed - expected))) < 0.02  # KS 99.9% band is 0.014
    assert float(metrics.miscalibration_area(y, loc, scale)) < 0.01


def test_overconfident_predictions_cover_less_than_their_level():
    y, loc, scale = gaussian_data(seed=8, n=5000)
    narrow = 0.5 * scale
    for level in (0.5, 0.9, 0.95):
        assert float(metrics.gaussian_coverage(y, loc, narrow, level)) < level - 0.05
        assert float(metrics.gaussian_coverage(y, loc, 2.0 * scale, level)) > level  # under-confident
    expected, observed = metrics.calibration_curve(y, loc, narrow, num_levels=10)
    # too many PIT values near 0 and 1: above the diagonal on the left, under it on the right
    assert np.all(observed[:3] > expected[:3]) and np.all(observed[-3:] < expected[-3:])
    assert float(metrics.miscalibration_area(y, loc, narrow)) > 0.05


def test_calibration_curve_matches_a_direct_computation():
    y, loc, scale = gaussian_data(seed=9, n=200)
    expected, observed = metrics.calibration_curve(y, loc, scale, num_levels=20)
    levels = (np.arange(20) + 0.5) / 20
    pit = stats.norm.cdf(y, loc, scale)
    np.testing.assert_allclose(expected, levels, rtol=1e-12)
    np.testing.assert_allclose(observed, [np.mean(pit <= p) for p in levels])


def test_miscalibration_area_is_the_integral_of_the_curve_gap():
    y, loc, scale = gaussian_data(seed=10, n=60)
    loc = loc + 0.5  # biased, so the area is well away from 0
    pit = np.sort(stats.norm.cdf(y, loc, scale))
    grid = (np.arange(400000) + 0.5) / 400000
    gap = np.abs(np.searchsorted(pit, grid, side="right") / pit.size - grid)
    area = float(metrics.miscalibration_area(y, loc, scale))
    np.testing.assert_allclose(area, gap.mean(), atol=1e-6)
    # the curve's midpoint rule approximates it
    expected, observed = metrics.calibration_curve(y, loc, scale, num_levels=2000)
    np.testing.assert_allclose(area, np.mean(np.abs(observed - expected)), atol=1e-3)
    # and it is the Wasserstein-1 distance of the PIT values from the uniform
    np.testing.assert_allclose(area, stats.wasserstein_distance(pit, grid), atol=1e-5)


# ----------------------------------------------------------------------------- classification


def test_brier_score_matches_scikit_learn():
    y, probs = class_data()
    labels = list(range(probs.shape[1]))
    np.testing.assert_allclose(metrics.brier_score(y, probs), brier_score_loss(y, probs, labels=labels))
    direct = np.mean(np.sum((probs - np.eye(probs.shape[1])[y]) ** 2, axis=1))
    np.testing.assert_allclose(metrics.brier_score(y, probs), direct, rtol=1e-12)
    yb, pb = class_data(seed=1, k=2)
    np.testing.assert_allclose(metrics.brier_score(yb, pb[:, 1]), brier_score_loss(yb, pb[:, 1]))
    # the binary layout is half the two-column multi-class score
    np.testing.assert_allclose(2 * metrics.brier_score(yb, pb[:, 1]), metrics.brier_score(yb, pb))


def test_accuracy_and_nll_match_scikit_learn():
    y, probs = class_data(seed=2)
    labels = list(range(probs.shape[1]))
    np.testing.assert_allclose(metrics.accuracy(y, probs), accuracy_score(y, probs.argmax(axis=1)))
    np.testing.assert_allclose(metrics.classification_nll(y, probs), log_loss(y, probs, labels=labels))
    yb, pb = class_data(seed=3, k=2)
    np.testing.assert_allclose(metrics.accuracy(yb, pb[:, 1]), accuracy_score(yb, pb[:, 1] > 0.5))
    np.testing.assert_allclose(metrics.classification_nll(yb, pb[:, 1]), log_loss(yb, pb[:, 1]))
    np.testing.assert_allclose(metrics.classification_nll(yb, pb[:, 1]), metrics.classification_nll(yb, pb))


def test_classification_nll_of_a_wrong_certainty_is_infinite():
    assert np.isinf(float(metrics.classification_nll(np.array([0]), np.array([[0.0, 1.0]]))))


def test_float32_softmax_probabilities_pass_the_sum_check():
    logits = np.random.default_rng(11).normal(size=(500, 10)).astype(np.float32) * 5
    probs = jax.nn.softmax(jnp.asarray(logits), axis=-1)
    assert probs.dtype == jnp.float32
    metrics.brier_score(np.zeros(500, dtype=np.int32), probs)


# ----------------------------------------------------------------------------- reliability, ECE


def test_binary_reliability_curve_matches_scikit_learn():
    rng = np.random.default_rng(12)
    p = rng.uniform(size=300)
    p[:6] = [0.0, 0.2, 0.4, 0.5, 0.8, 1.0]  # on bin edges: bins are right-closed, as scikit-learn's
    y = (rng.uniform(size=300) < p).astype(int)
    for num_bins in (5, 10, 15):
        confidence, frequency, counts = metrics.reliability_curve(y, p, num_bins=num_bins)
        prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=num_bins, strategy="uniform")
        full = np.asarray(counts) > 0
        np.testing.assert_allclose(np.asarray(frequency)[full], prob_true, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(confidence)[full], prob_pred, rtol=1e-12)
        assert float(np.sum(counts)) == 300


def reference_ece(y, probs, num_bins):
    """Guo et al. (2017) written out: top-label confidence, loop over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    ece = 0.0
    for b in range(num_bins):
        lo, hi = edges[b], edges[b + 1]
        inside = (confidence > lo) & (confidence <= hi) if b else (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return ece


def test_ece_matches_a_direct_loop():
    y, probs = class_data(seed=13, n=500, k=5)
    sharpened = probs**3 / np.sum(probs**3, axis=1, keepdims=True)  # over-confident
    for num_bins in (1, 7, 15):
        value = metrics.expected_calibration_error(y, sharpened, num_bins=num_bins)
        np.testing.assert_allclose(value, reference_ece(y, sharpened, num_bins), rtol=1e-12)
    assert float(metrics.expected_calibration_error(y, sharpened)) == pytest.approx(
        reference_ece(y, sharpened, 15), rel=1e-12
    )  # 15 bins by default
    confidence, frequency, counts = metrics.reliability_curve(y, sharpened)
    full = np.asarray(counts) > 0
    assert np.all(np.asarray(frequency)[full][-3:] < np.asarray(confidence)[full][-3:])


def test_ece_of_calibrated_and_overconfident_classifiers():
    y, probs = class_data(seed=14, n=20000, k=3)  # labels drawn from probs: calibrated
    assert float(metrics.expected_calibration_error(y, probs)) < 0.02
    sharpened = probs**4 / np.sum(probs**4, axis=1, keepdims=True)
    assert float(metrics.expected_calibration_error(y, sharpened)) > 0.1


# ----------------------------------------------------------------------------- information


def test_entropies_match_scipy():
    probs = sampled_probs()
    mean = probs.mean(axis=0)
    np.testing.assert_allclose(metrics.predictive_entropy(probs), stats.entropy(mean, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(
        metrics.expected_entropy(probs), stats.entropy(probs, axis=-1).mean(axis=0), rtol=1e-12
    )
    mi = stats.entropy(mean, axis=-1) - stats.entropy(probs, axis=-1).mean(axis=0)
    np.testing.assert_allclose(metrics.mutual_information(probs), mi, rtol=1e-10)
    assert metrics.mutual_information(probs).shape == (20,)
    assert metrics.mutual_information(probs[:, 0]).shape == ()  # (S, K): one point


def test_mutual_information_is_zero_when_samples_agree_and_never_negative():
    one = sampled_probs(seed=15, s=1)
    agree = np.repeat(one, 40, axis=0)
    np.testing.assert_allclose(metrics.mutual_information(agree), 0.0, atol=1e-12)
    assert np.all(np.asarray(metrics.mutual_information(agree)) >= 0.0)
    for seed in range(5):
        assert np.all(np.asarray(metrics.mutual_information(sampled_probs(seed=seed))) >= 0.0)
    # certain samples that disagree evenly: log 2 of epistemic uncertainty, no aleatoric
    split = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(metrics.mutual_information(split), [np.log(2.0)], rtol=1e-12)
    np.testing.assert_allclose(metrics.expected_entropy(split), [0.0], atol=0)


# ----------------------------------------------------------------------------- jit, doctests


def test_metrics_trace_and_run_under_jit():
    y, loc, scale = gaussian_data()
    yc, probs = class_data()
    samples = loc + scale * np.random.default_rng(16).normal(size=(40, 50))
    cases = [
        (metrics.rmse, (y, loc)),
        (metrics.mae, (y, loc)),
        (metrics.gaussian_nll, (y, loc, scale)),
        (metrics.mixture_nll, (y, samples, scale, np.full(40, 1 / 40))),
        (metrics.sample_nll, (y, samples, 0.5)),
        (metrics.crps_gaussian, (y, loc, scale)),
        (metrics.crps_samples, (y, samples)),
        (metrics.coverage, (y, loc - scale, loc + scale)),
        (metrics.gaussian_coverage, (y, loc, scale, np.array([0.5, 0.9]))),
        (metrics.calibration_curve, (y, loc, scale)),
        (metrics.miscalibration_area, (y, loc, scale)),
        (metrics.accuracy, (yc, probs)),
        (metrics.brier_score, (yc, probs)),
        (metrics.classification_nll, (yc, probs)),
        (metrics.reliability_curve, (yc, probs)),
        (metrics.expected_calibration_error, (yc, probs)),
        (metrics.predictive_entropy, (sampled_probs(),)),
        (metrics.expected_entropy, (sampled_probs(),)),
        (metrics.mutual_information, (sampled_probs(),)),
    ]
    # every metric traces with all its arguments abstract (value checks skipped, shapes kept)
    for fn, args in cases:
        jax.make_jaxpr(fn)(*args)
    # and compiles to the same numbers (compiling is slow: a few representatives)
    for fn, args in (cases[2], cases[6], cases[18]):
        np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-12, err_msg=fn.__name__)
    ece = jax.jit(metrics.expected_calibration_error, static_argnames="num_bins")
    np.testing.assert_allclose(ece(yc, probs, num_bins=10), metrics.expected_calibration_error(yc, probs, 10))


def test_traced_values_are_not_checked():
    # under jit a bad value is a tracer: no check, no crash (the result is simply NaN)
    value = jax.jit(metrics.gaussian_nll)(np.zeros(3), np.zeros(3), -1.0)
    assert np.isnan(float(value))


def test_constants_are_checked_inside_jit():
    bad_scale = np.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="`scale` must be positive"):
        jax.jit(lambda y: metrics.gaussian_nll(y, jnp.zeros(3), bad_scale))(np.zeros(3))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"bayeskit.metrics.{name}")
    result = doctest.testmod(module, extraglobs={"jnp": jnp}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- bad input

Y, LOC = np.zeros(4), np.zeros(4)
P2 = np.full((4, 2), 0.5)
LABELS = np.array([0, 1, 0, 1])
SAMPLED = np.full((3, 4, 2), 0.5)

BAD_INPUTS = [
    (metrics.rmse, (Y, np.zeros(5)), r"`y` and `y_pred` must have the same shape, got `y` \(4,\) and `y_pred` \(5,\)"),
    (metrics.mae, (Y, np.array([0.0, np.nan, 0.0, 0.0])), r"`y_pred` must be finite.*index \[1\]"),
    (metrics.gaussian_nll, (Y, np.zeros(3), 1.0), r"`y` and `loc`.*\(4,\).*\(3,\)"),
    (metrics.gaussian_nll, (Y, LOC, 0.0), r"gaussian_nll: `scale` must be positive"),
    (metrics.gaussian_nll, (Y, LOC, np.ones(3)), r"`scale` of shape \(3,\) does not broadcast"),
    (metrics.gaussian_nll, (np.array([np.nan, 0, 0, 0]), LOC, 1.0), r"`y` must be finite"),
    (metrics.mixture_nll, (Y, np.zeros((2, 3)), 1.0), r"`loc` must have shape \(M, 4\)"),
    (metrics.mixture_nll, (Y, np.zeros((2, 4)), 1.0, np.array([0.5, 0.6])), r"`weights` must sum to 1"),
    (metrics.mixture_nll, (Y, np.zeros((2, 4)), 1.0, np.array([1.5, -0.5])), r"`weights` must hold probabilities"),
    (metrics.mixture_nll, (Y, np.zeros((2, 4)), 1.0, np.ones(3) / 3), r"`weights` must have one entry per component"),
    (metrics.sample_nll, (Y, np.zeros(4), 1.0), r"`samples` must have shape \(S, 4\) with one row per sample"),
    (metrics.sample_nll, (Y, np.zeros((5, 4)), -2.0), r"sample_nll: `scale` must be positive"),
    (metrics.rmse, (np.zeros(0), np.zeros(0)), r"rmse: `y` is empty"),
    (metrics.crps_gaussian, (Y, LOC, np.array([1.0, 1.0, 0.0, 1.0])), r"`scale` must be positive.*index \[2\]"),
    (metrics.crps_samples, (Y, np.zeros((5, 3))), r"`samples` must have shape \(S, 4\)"),
    (metrics.crps_samples, (Y, np.zeros((1, 4)), True), r"`fair=True` needs at least 2 samples"),
    (metrics.coverage, (Y, np.ones(4), np.zeros(4)), r"`lower` must not exceed `upper`"),
    (metrics.coverage, (Y, np.zeros(5), np.ones(5)), r"`lower` of shape \(5,\) does not broadcast"),
    (metrics.gaussian_coverage, (Y, LOC, 1.0, 1.0), r"`level`.*strictly between 0 and 1, got 1.0"),
    (metrics.gaussian_coverage, (Y, LOC, 1.0, np.array([0.5, 0.0])), r"`level`.*index \[1\]"),
    (metrics.calibration_curve, (Y, LOC, 1.0, 0), r"`num_levels` must be at least 1"),
    (metrics.calibration_curve, (Y, LOC, 1.0, 2.5), r"`num_levels` must be a positive integer"),
    (metrics.miscalibration_area, (Y, LOC, -1.0), r"`scale` must be positive"),
    (metrics.brier_score, (LABELS, np.full((4, 2), 0.6)), r"`probs` must sum to 1 along axis 1"),
    (metrics.brier_score, (LABELS, np.array([0.1, 1.2, 0.3, 0.4])), r"`probs` must hold probabilities in \[0, 1\]"),
    (metrics.brier_score, (np.array([0, 1, 2]), P2), r"`y` must hold one label per row of `probs`.*\(3,\).*\(4, 2\)"),
    (metrics.accuracy, (np.zeros(0), np.zeros((0, 2))), r"accuracy: `probs` is empty"),
    (metrics.accuracy, (np.array([0, 1, 2, 0]), P2), r"`y` must hold integer class labels in 0..1"),
    (metrics.classification_nll, (np.array([0, 0.5, 1, 0]), P2), r"`y` must hold integer class labels"),
    (metrics.classification_nll, (LABELS, np.full((4, 2, 2), 0.5)), r"`probs` must be \(n,\)"),
    (metrics.reliability_curve, (LABELS, P2, 0), r"`num_bins` must be at least 1"),
    (metrics.expected_calibration_error, (LABELS, P2, -3), r"`num_bins` must be at least 1"),
    (metrics.expected_calibration_error, (LABELS, np.array([0.5, np.nan, 0.5, 0.5])), r"`probs` must be finite"),
    (metrics.predictive_entropy, (np.full(4, 0.25),), r"`probs` must have shape \(S, n, K\)"),
    (metrics.expected_entropy, (np.full((3, 4, 2), 0.4),), r"`probs` must sum to 1 along axis -1"),
    (metrics.mutual_information, (SAMPLED * np.array([-1.0, 3.0]),), r"`probs` must hold probabilities"),
    # No samples or components at all: an error, not a NaN (or Python's "math domain error").
    (metrics.crps_samples, (Y, np.zeros((0, 4))), r"crps_samples: `samples` is empty \(shape \(0, 4\)\)"),
    (metrics.sample_nll, (Y, np.zeros((0, 4)), 1.0), r"sample_nll: `samples` is empty.*at least one sample"),
    (metrics.mixture_nll, (Y, np.zeros((0, 4)), 1.0), r"mixture_nll: `loc` is empty.*mixture component"),
    (metrics.mutual_information, (np.zeros((0, 4, 2)),), r"mutual_information: `probs` is empty"),
    (metrics.predictive_entropy, (np.zeros((0, 2)),), r"predictive_entropy: `probs` is empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fn", "args", "message"), BAD_INPUTS, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_INPUTS)]
)
def test_bad_input_names_the_argument(fn, args, message):
    with pytest.raises(ValueError, match=message):
        fn(*args)
