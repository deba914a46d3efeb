"""Pin the public names: a change to the surface must be deliberate (and noted in CHANGELOG)."""

import importlib

import pytest

PUBLIC = {
    "bayeskit": {
        "Posterior", "SamplingWarning", "__version__", "conjugate", "datasets", "diagnostics", "dist",
        "gp", "mcmc", "metrics", "nn", "optimize", "ppl", "sbc", "use_compilation_cache", "use_cpu_cores",
        "vi",
    },
    "bayeskit.vi": {
        "CustomGuide", "ELBOEstimator", "ELBOTerms", "ESTIMATORS", "EvidenceDecomposition",
        "FullRankGuide", "GUIDES", "Guide", "LowRankGuide", "MeanFieldGuide", "PointMassGuide",
        "VIResult", "check_guide", "custom_guide", "decompose_evidence", "default_optimizer", "elbo", "elbo_estimator",
        "fit", "make_guide",
    },
    "bayeskit.nn": {
        "BayesByBackpropRegressor", "ClassificationPredictive", "DeepEnsembleClassifier",
        "DeepEnsembleRegressor", "ELBOTerms", "MCDropoutClassifier", "MCDropoutRegressor", "MLP",
        "NUTSBNNRegressor", "RegressionPredictive", "TrainHistory", "VAE", "VAEHistory", "bnn_model",
        "gaussian_head", "gaussian_kl", "train",
    },
    "bayeskit.sbc": {"SBCResult", "rank_statistics", "run", "uniformity_test"},
    "bayeskit.metrics": {
        "accuracy", "brier_score", "calibration_curve", "classification_nll", "coverage", "crps_gaussian",
        "crps_samples", "expected_calibration_error", "expected_entropy", "gaussian_coverage",
        "gaussian_nll", "mae", "miscalibration_area", "mixture_nll", "mutual_information",
        "predictive_entropy", "reliability_curve", "rmse", "sample_nll",
    },
    "bayeskit.gp": {
        "ConstantMean", "FitInfo", "GPC", "GPPrediction", "GPR", "LinearMean", "MeanFunction",
        "NotPositiveDefiniteError", "SGPR", "SVGP", "ZeroMean", "conditional", "gaussian_log_marginal",
        "gp_marginal", "jittered_cholesky", "kernels", "latent_gp", "select_inducing",
    },
    "bayeskit.gp.kernels": {
        "Constant", "Kernel", "Linear", "Matern12", "Matern32", "Matern52", "Periodic", "Polynomial",
        "Product", "RBF", "RationalQuadratic", "Sum", "White",
    },
    "bayeskit.diagnostics": {
        "ebfmi", "ess_bulk", "ess_mean", "ess_tail", "hdi", "mcse_mean", "mcse_sd", "rhat", "summary",
    },
    "bayeskit.mcmc": {
        "KERNELS", "DualAveragingState", "GibbsBlock", "GibbsInfo", "HMCInfo", "HMCState",
        "IntegratorState", "Kernel", "Metric", "NUTSInfo", "RWMHInfo", "RWMHState", "WelfordState",
        "dual_averaging_init", "dual_averaging_step_size", "dual_averaging_update", "gaussian_euclidean", "gaussian_mixture_blocks",
        "default_term_buffer", "initial_inverse_mass", "pool_inverse_mass",
        "gibbs", "hierarchical_normal_blocks", "hmc", "leapfrog", "linear_regression_blocks", "nuts",
        "optimal_acceptance_rate", "rwmh", "rwmh_warmup", "sample", "step_size_correction", "warmup_schedule",
        "welford_covariance", "welford_init", "welford_update",
    },
    "bayeskit.dist": {
        "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Dirichlet", "DirichletMultinomial",
        "Distribution", "ExpandedDistribution", "Exponential", "Gamma", "HalfCauchy", "HalfNormal",
        "Independent", "InverseGamma", "LKJCholesky", "Laplace", "LogNormal", "MixtureSameFamily",
        "Multinomial", "MultivariateNormal", "MultivariateStudentT", "NegativeBinomial",
        "NegativeBinomial2", "Normal", "Poisson", "StudentT", "Transform", "Uniform", "biject_to",
        "constraints", "kl_divergence", "transforms",
    },
    "bayeskit.ppl": {
        "Handle", "Plate", "Site", "SiteInfo", "Target", "log_joint", "predictive", "sample_prior",
        "target", "trace",
    },
    "bayeskit.optimize": {"LaplaceApproximation", "OptimizeResult", "laplace", "map", "mle"},
    "bayeskit.datasets": {
        "Dataset", "eight_schools", "load_diabetes", "load_digits", "make_classification", "make_regression",
    },
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names(module):
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC[module]
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is in __all__ but missing"


def test_conjugate_all_resolves():
    mod = importlib.import_module("bayeskit.conjugate")
    for name in mod.__all__:
        assert hasattr(mod, name)
    for name in ("BetaBernoulli", "NormalNormal", "NormalInverseGamma", "GammaPoisson",
                 "DirichletMultinomial", "BayesianLinearRegression"):  # fmt: skip
        assert name in mod.__all__


def test_import_and_help_load_no_jax():
    """`import bayeskit` and `bayeskit --help` stay fast: subpackages load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, bayeskit\n"
        "from bayeskit.cli import main\n"
        "assert main([]) == 0\n"
        "print(sorted(m for m in ('jax', 'equinox', 'optax', 'bayeskit.dist') if m in sys.modules))\n"
        "bayeskit.Posterior; from bayeskit import gp\n"
        "print('jax' in sys.modules, sorted(set(bayeskit.__all__) - set(dir(bayeskit))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-2:] == ["[]", "True []"]


def test_unknown_attribute_is_an_attribute_error():
    import bayeskit

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bayeskit.nope  # noqa: B018
