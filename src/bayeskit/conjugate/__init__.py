"""Conjugate models: closed-form posteriors, posterior predictives and log evidence.

Each model is an immutable module holding the current belief. ``update(data)`` returns the model
conditioned on the data (updating in pieces equals updating once), ``posterior`` is the current
belief as a :mod:`bayeskit.dist` distribution (or a dict of named marginals where there are
several unknowns), ``predictive(...)`` is the posterior predictive of new data, and
``log_marginal_likelihood(data)`` is the exact log evidence of ``data`` under the current belief.

==============================  ======================================  =============================
model                           posterior                               predictive
==============================  ======================================  =============================
``BetaBernoulli``               ``Beta``                                ``Bernoulli``
``NormalNormal``                ``Normal``                              ``Normal``
``NormalInverseGamma``          ``{"loc": StudentT,                     ``StudentT``
                                "variance": InverseGamma}``
``GammaPoisson``                ``Gamma``                               ``NegativeBinomial``
``DirichletMultinomial``        ``Dirichlet``                           ``Categorical`` (next label);
                                                                        ``dist.DirichletMultinomial``
                                                                        (counts of n draws)
``BayesianLinearRegression``    ``{"weights": MultivariateStudentT,     ``StudentT`` per point
                                "noise_variance": InverseGamma}``       (``joint_predictive``: MVT)
``KnownNoiseLinearRegression``  ``MultivariateNormal``                  ``Normal`` per point
                                                                        (``joint_predictive``: MVN)
==============================  ======================================  =============================
"""

from bayeskit.conjugate.bayesian_linear_regression import BayesianLinearRegression
from bayeskit.conjugate.beta_bernoulli import BetaBernoulli
from bayeskit.conjugate.dirichlet_multinomial import DirichletMultinomial
from bayeskit.conjugate.gamma_poisson import GammaPoisson
from bayeskit.conjugate.known_noise_linear_regression import KnownNoiseLinearRegression
from bayeskit.conjugate.normal_inverse_gamma import NormalInverseGamma
from bayeskit.conjugate.normal_normal import NormalNormal

__all__ = [
    "BayesianLinearRegression",
    "BetaBernoulli",
    "DirichletMultinomial",
    "GammaPoisson",
    "KnownNoiseLinearRegression",
    "NormalInverseGamma",
    "NormalNormal",
]
