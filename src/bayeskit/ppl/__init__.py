"""The model language: a handle ``m`` for sample/plate/deterministic/factor/param, interpreters,
and ``target``, the conditioned model every inference algorithm consumes."""

from bayeskit.ppl.handle import Handle, Plate, Site
from bayeskit.ppl.interpreters import log_joint, predictive, sample_prior, trace
from bayeskit.ppl.target import SiteInfo, Target, target

__all__ = [
    "Handle",
    "Plate",
    "Site",
    "SiteInfo",
    "Target",
    "log_joint",
    "predictive",
    "sample_prior",
    "target",
    "trace",
]
