"""``VIResult``: a fitted guide, its ELBO history with its parts, and posterior draws."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.posterior import Posterior
from bayeskit.vi._program import Program
from bayeskit.vi.custom_guide import CustomGuide, invalid_guide_site
from bayeskit.vi.guides import Guide

__all__ = ["VIResult"]


@dataclasses.dataclass(frozen=True, eq=False)
class VIResult:
    """The outcome of :func:`bayeskit.vi.fit`.

    Attributes:
        guide: the fitted guide (an automatic guide over the unconstrained vector, or a
            :class:`CustomGuide`); pass it back to ``fit`` to continue.
        elbo: the ELBO estimate at every step, shape ``(num_steps,)``.
        expected_log_likelihood: its first part, E_q[log p(data | theta)], per step.
        kl: its second part, KL(q || prior), per step (``elbo = expected_log_likelihood - kl``).
        info: the run's settings and facts (guide, estimator, steps, convergence, timings).
        warnings: messages about the run (skipped non-finite steps, interruption).

    Example:
        >>> result = bayeskit.vi.fit(key, t, guide="fullrank")
        >>> result.final_elbo, result.num_steps, result.converged
        >>> posterior = result.sample(jax.random.key(1), 2000)
        >>> posterior.summary()
    """

    guide: Guide | CustomGuide
    elbo: np.ndarray
    expected_log_likelihood: np.ndarray
    kl: np.ndarray
    info: dict[str, Any]
    warnings: list[str]
    _program: Program = dataclasses.field(repr=False)

    @property
    def num_steps(self) -> int:
        """Steps taken (fewer than asked when the stopping rule fired)."""
        return int(self.elbo.shape[0])

    @property
    def converged(self) -> bool:
        """Whether the stopping rule fired before ``num_steps``."""
        return bool(self.info.get("converged", False))

    @property
    def final_elbo(self) -> float:
        """The mean ELBO estimate over the last window (chunk) of steps: a smoothed final value.

        Steps whose estimate was NaN or +-inf (skipped during the fit) are left out, unless more
        than 1% of the window's estimates were -inf: then the guide demonstrably puts mass where
        the model's density is zero (e.g. a parameter bounded by the data, as ``a`` in
        ``y ~ Uniform(0, a)``), the ELBO of this guide family is -inf, and so is this value.
        """
        window = np.asarray(self.elbo[-int(self.info.get("chunk_size", 100)) :])
        if window.size and np.mean(window == -np.inf) > 0.01:
            return float("-inf")
        window = window[np.isfinite(window)]
        return float(window.mean()) if window.size else float("nan")

    def history(self):
        """The per-step ELBO and its parts as a pandas DataFrame (columns ``elbo``,
        ``expected_log_likelihood``, ``kl``; index ``step``)."""
        import pandas as pd

        frame = pd.DataFrame(
            {"elbo": self.elbo, "expected_log_likelihood": self.expected_log_likelihood, "kl": self.kl}
        )
        frame.index.name = "step"
        return frame

    def sample(self, key: jax.Array, num_samples: int = 1000) -> Posterior:
        """Draw ``num_samples`` from the fitted guide as a :class:`~bayeskit.Posterior`.

        Draws are constrained site values plus the model's deterministics, shaped
        ``[1, num_samples, ...]`` (one "chain" of independent draws), so ``summary()``,
        :func:`bayeskit.ppl.predictive` and the figures work as for MCMC. (R-hat and ESS of
        independent draws only measure Monte Carlo error: they say nothing about how close the
        guide is to the posterior.)
        """
        key = check_key(key, "VIResult.sample")
        num_samples = check_int("VIResult.sample", "num_samples", num_samples)
        draws = jax.device_get(_draw(self._program, self.guide, key, num_samples))
        draws = {k: np.asarray(v)[None] for k, v in draws.items()}
        info = {
            "method": "vi",
            **{k: v for k, v in self.info.items() if k != "tol"},
            "final_elbo": self.final_elbo,
        }
        return Posterior(draws, {}, info, [])

    def __repr__(self) -> str:
        return (
            f"VIResult(guide={self.info.get('guide')}, model={self.info.get('model')}, "
            f"steps={self.num_steps}, converged={self.converged}, final_elbo={self.final_elbo:.6g})"
        )


def _draw(program: Program, guide, key, num_samples: int) -> dict[str, jax.Array]:
    """Constrained latent values and deterministics of ``num_samples`` guide draws (compiled)."""
    if isinstance(guide, CustomGuide):
        latent = [s.name for s in program.latent]

        def one(k):
            gtr = guide.run(program, key=k, full_data=True)
            values = {n: gtr[n].value for n in latent}
            tr, _ = program.run(values=values, full_data=True)
            return {n: s.value for n, s in tr.items() if n in values or s.kind == "deterministic"}

        try:
            return jax.jit(jax.vmap(one))(jax.random.split(key, num_samples))
        except ValueError:
            detail = invalid_guide_site(guide, program, key, guide.constrained_params(), "fitted")
            if detail is None:
                raise
            raise ValueError(detail) from None
    t = program.target
    return jax.jit(lambda k: t.constrain(guide.sample(k, (num_samples,))))(key)
