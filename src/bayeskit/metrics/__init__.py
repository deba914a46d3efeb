r"""Metrics that judge predictions and their uncertainty.

Every metric is a pure JAX function (it runs under ``jit``; counts such as ``num_bins`` are
static), takes the observations first, and returns the mean over points unless said otherwise.
Inputs are checked when they are concrete (shapes always): mismatched shapes, non-positive
scales, probabilities outside [0, 1] or not summing to 1, levels outside (0, 1), bad counts and
NaN/inf raise a ``ValueError`` naming the argument. Traced values are not checked.

Regression (``y`` of shape ``(n,)``; Gaussian predictions as ``loc``/``scale``, mixtures and
samples with a leading axis ``(M, n)`` / ``(S, n)``):

===========================  ===================================================================
``rmse``, ``mae``            root mean squared error, mean absolute error of point predictions
``gaussian_nll``             mean negative log-likelihood of Gaussian predictions (nats)
``mixture_nll``              ... of a (weighted) mixture of Gaussians, e.g. a deep ensemble
``sample_nll``               ... of predictive samples plus Gaussian noise (MC dropout's LL)
``crps_gaussian``            continuous ranked probability score, closed form
``crps_samples``             CRPS of samples, O(S log S) by sorting (``fair=True``: unbiased)
``coverage``                 fraction of points inside given intervals
``gaussian_coverage``        coverage of central Gaussian intervals at one or more levels
``calibration_curve``        expected vs observed quantile frequencies (PIT empirical CDF)
``miscalibration_area``      exact area between that curve and the diagonal
===========================  ===================================================================

Classification (labels ``y`` of shape ``(n,)``; ``probs`` of shape ``(n, K)``, or ``(n,)`` for
the probability of class 1 in a binary problem):

================================  ==============================================================
``accuracy``                      fraction of points whose most probable class is the label
``brier_score``                   squared error of the probabilities (as scikit-learn's)
``classification_nll``            log loss (nats)
``reliability_curve``             per-bin confidence, frequency and count (equal-width bins)
``expected_calibration_error``    ECE: count-weighted L1 gap, 15 equal-width bins by default
================================  ==============================================================

Uncertainty decomposition from class-probability samples ``(S, n, K)``, one value per point:
``predictive_entropy`` (total) = ``expected_entropy`` (aleatoric) + ``mutual_information``
(epistemic, BALD).

Conventions: ``*_nll`` is the mean negative log-likelihood per point (lower is better); the UCI
benchmark papers report the test log-likelihood, which is ``-nll``.
"""

from bayeskit.metrics.calibration import calibration_curve, coverage, gaussian_coverage, miscalibration_area
from bayeskit.metrics.classification import accuracy, brier_score, classification_nll
from bayeskit.metrics.crps import crps_gaussian, crps_samples
from bayeskit.metrics.information import expected_entropy, mutual_information, predictive_entropy
from bayeskit.metrics.log_likelihood import gaussian_nll, mixture_nll, sample_nll
from bayeskit.metrics.regression import mae, rmse
from bayeskit.metrics.reliability import expected_calibration_error, reliability_curve

__all__ = [
    "accuracy",
    "brier_score",
    "calibration_curve",
    "classification_nll",
    "coverage",
    "crps_gaussian",
    "crps_samples",
    "expected_calibration_error",
    "expected_entropy",
    "gaussian_coverage",
    "gaussian_nll",
    "mae",
    "miscalibration_area",
    "mixture_nll",
    "mutual_information",
    "predictive_entropy",
    "reliability_curve",
    "rmse",
    "sample_nll",
]
