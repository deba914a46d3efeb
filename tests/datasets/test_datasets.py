"""Embedded and generated data sets."""

import jax
import numpy as np
import pytest

from bayeskit.datasets import eight_schools, load_diabetes, load_digits, make_classification, make_regression


def test_eight_schools():
    d = eight_schools()
    assert d.y.shape == (8,) and d.extra["sigma"].shape == (8,)
    assert d.y[0] == 28.0 and d.extra["sigma"][-1] == 18.0


def test_sklearn_sets_offline():
    digits = load_digits()
    assert (
        digits.X.shape == (1797, 64) and digits.X.max() <= 1.0 and set(np.unique(digits.y)) == set(range(10))
    )
    diabetes = load_diabetes()
    assert diabetes.X.shape == (442, 10) and len(diabetes.feature_names) == 10


def test_make_regression_recovers_truth():
    d = make_regression(jax.random.key(0), num_samples=2000, num_features=3, noise_scale=0.1, intercept=1.0)
    A = np.column_stack([d.X, np.ones(len(d.y))])
    coef = np.linalg.lstsq(A, d.y, rcond=None)[0]
    np.testing.assert_allclose(coef[:3], d.extra["weights"], atol=0.01)
    np.testing.assert_allclose(coef[3], 1.0, atol=0.01)
    sparse = make_regression(jax.random.key(1), num_features=5, num_informative=2)
    assert np.all(sparse.extra["weights"][2:] == 0)


def test_make_classification_labels():
    d = make_classification(jax.random.key(0), num_samples=500, num_features=2)
    assert set(np.unique(d.y)) <= {0, 1} and d.X.shape == (500, 2)


def test_bad_sizes():
    with pytest.raises(ValueError, match="num_samples"):
        make_regression(jax.random.key(0), num_samples=0)
    with pytest.raises(ValueError, match="noise_scale"):
        make_regression(jax.random.key(0), noise_scale=-1.0)
    # Non-finite scales and intercepts made all-NaN or constant data; non-integer counts were cut.
    with pytest.raises(ValueError, match="`noise_scale` must be a finite positive number"):
        make_regression(jax.random.key(0), noise_scale=float("inf"))
    with pytest.raises(ValueError, match="`weight_scale` must be a finite number"):
        make_regression(jax.random.key(0), weight_scale=float("nan"))
    with pytest.raises(ValueError, match="`intercept` must be a finite number"):
        make_classification(jax.random.key(0), intercept=float("inf"))
    with pytest.raises(ValueError, match="`num_informative` must be an integer >= 0"):
        make_regression(jax.random.key(0), num_informative=2.7)
    with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1"):
        make_regression(jax.random.key(0), num_samples=True)
