"""Probability distributions, constraints, bijective transforms and KL divergences.

Every family is an immutable ``equinox.Module`` with ``log_prob``, ``sample(key, sample_shape)``,
``support``, ``batch_shape``/``event_shape`` and, where closed forms exist, ``mean``,
``variance``, ``entropy``, ``cdf`` and ``icdf``. Parameters follow NumPyro/TFP names.
"""

from bayeskit.dist import constraints, transforms
from bayeskit.dist._distribution import Distribution, ExpandedDistribution
from bayeskit.dist._independent import Independent
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.beta import Beta
from bayeskit.dist.binomial import Binomial
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.cauchy import Cauchy
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.dirichletmultinomial import DirichletMultinomial
from bayeskit.dist.exponential import Exponential
from bayeskit.dist.gamma import Gamma
from bayeskit.dist.halfcauchy import HalfCauchy
from bayeskit.dist.halfnormal import HalfNormal
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.kl import kl_divergence
from bayeskit.dist.laplace import Laplace
from bayeskit.dist.lkj import LKJCholesky
from bayeskit.dist.lognormal import LogNormal
from bayeskit.dist.mixture import MixtureSameFamily
from bayeskit.dist.multinomial import Multinomial
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.multivariate_studentt import MultivariateStudentT
from bayeskit.dist.negativebinomial import NegativeBinomial, NegativeBinomial2
from bayeskit.dist.normal import Normal
from bayeskit.dist.poisson import Poisson
from bayeskit.dist.studentt import StudentT
from bayeskit.dist.transforms import Transform, biject_to
from bayeskit.dist.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "Dirichlet",
    "DirichletMultinomial",
    "Distribution",
    "ExpandedDistribution",
    "Exponential",
    "Gamma",
    "HalfCauchy",
    "HalfNormal",
    "Independent",
    "InverseGamma",
    "LKJCholesky",
    "Laplace",
    "LogNormal",
    "MixtureSameFamily",
    "Multinomial",
    "MultivariateNormal",
    "MultivariateStudentT",
    "NegativeBinomial",
    "NegativeBinomial2",
    "Normal",
    "Poisson",
    "StudentT",
    "Transform",
    "Uniform",
    "biject_to",
    "constraints",
    "kl_divergence",
    "transforms",
]
