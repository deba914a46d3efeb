"""``SBCResult``: the ranks of a simulation-based calibration run, their tests and pictures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bayeskit.sbc.uniformity import binned_counts, binomial_band, default_num_bins, uniformity_test

__all__ = ["SBCResult"]


class SBCResult:
    """Rank statistics of a simulation-based calibration run, one column per scalar quantity.

    Attributes:
        ranks: ``(num_simulations, num_quantities)`` integer ranks in ``[0, num_draws]``.
        num_draws: the number of (thinned) posterior draws each rank was taken among, ``L``.
        quantities: the scalar quantity names, ``name`` or ``name[i,j]`` (0-based).
        truth: ``(num_simulations, num_quantities)`` values drawn from the prior.
        posterior_mean, posterior_sd: ``(num_simulations, num_quantities)`` of the kept draws.
        ess: ``(num_simulations, num_quantities)`` bulk ESS of the kept draws (close to
            ``num_draws`` when thinning made them nearly independent), or ``None`` when there were
            too few draws per chain to estimate it.
        stats: ``{name: (num_simulations,)}`` sampler statistics per simulation (divergences,
            mean acceptance rate, adapted step size, chains that found no finite start).
        info: run facts (kernel, sizes, wall and compile time).

    Example:
        >>> result = bayeskit.sbc.run(key, model, 20, observed="y", num_simulations=200)
        >>> result.summary()          # chi2, p_value, mean rank per quantity
        >>> result.passes(0.01)       # Bonferroni over quantities
        >>> result.plot()             # rank histograms with the 99% band
    """

    def __init__(
        self,
        ranks,
        num_draws: int,
        quantities: Sequence[str],
        truth=None,
        posterior_mean=None,
        posterior_sd=None,
        ess=None,
        stats: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ):
        self.ranks = np.asarray(ranks)
        self.num_draws = int(num_draws)
        self.quantities = list(quantities)
        if self.ranks.ndim != 2 or self.ranks.shape[1] != len(self.quantities):
            raise ValueError(
                f"SBCResult: `ranks` must be (num_simulations, {len(self.quantities)}), one column per "
                f"quantity; got shape {self.ranks.shape}."
            )
        self.truth = None if truth is None else np.asarray(truth)
        self.posterior_mean = None if posterior_mean is None else np.asarray(posterior_mean)
        self.posterior_sd = None if posterior_sd is None else np.asarray(posterior_sd)
        self.ess = None if ess is None else np.asarray(ess)
        self.stats = {k: np.asarray(v) for k, v in (stats or {}).items()}
        self.info = dict(info or {})

    @property
    def num_simulations(self) -> int:
        return int(self.ranks.shape[0])

    def test(self, num_bins: int | None = None) -> dict[str, np.ndarray]:
        """Chi-square uniformity test of every quantity's ranks (see :func:`uniformity_test`)."""
        return uniformity_test(self.ranks, self.num_draws, num_bins)

    def summary(self, num_bins: int | None = None):
        """Return a pandas DataFrame, one row per quantity.

        Columns: ``chi2`` and ``dof`` (Pearson's statistic on binned ranks), ``p_value``,
        ``mean_rank`` and ``expected_mean_rank`` (``num_draws / 2``; a mean rank far above it
        means the posterior sits below the truth), and ``ess_ratio``, the median over
        simulations of the kept draws' bulk ESS over ``num_draws`` (well below 1: thin more).
        """
        import pandas as pd

        if self.num_simulations >= 2:
            t = self.test(num_bins)
            chi2, p_value, dof = t["chi2"], t["p_value"], int(t["dof"])
        else:
            chi2 = p_value = np.full(len(self.quantities), np.nan)
            dof = 0
        ess_ratio = (
            np.median(self.ess, axis=0) / self.num_draws
            if self.ess is not None
            else np.full(len(self.quantities), np.nan)
        )
        table = pd.DataFrame(
            {
                "chi2": chi2,
                "dof": dof,
                "p_value": p_value,
                "mean_rank": self.ranks.mean(axis=0),
                "expected_mean_rank": self.num_draws / 2,
                "ess_ratio": ess_ratio,
            },
            index=pd.Index(self.quantities, name="quantity"),
        )
        return table

    def p_value(self, num_bins: int | None = None) -> float:
        """Bonferroni-combined p-value: ``min(1, num_quantities * min p)``.

        Valid however the quantities depend on each other; the run is flagged at level ``alpha``
        when this is below ``alpha``.
        """
        if self.num_simulations < 2:
            return float("nan")
        p = np.asarray(self.test(num_bins)["p_value"], dtype=float)
        return float(min(1.0, p.size * p.min()))

    def passes(self, alpha: float = 0.01, num_bins: int | None = None) -> bool:
        """Whether no quantity's ranks reject uniformity at level ``alpha`` (Bonferroni-corrected)."""
        return bool(self.p_value(num_bins) >= alpha)

    def plot(self, quantities: Sequence[str] | None = None, *, num_bins: int | None = None,
             level: float = 0.99, ax=None):  # fmt: skip
        """Draw rank histograms with the central ``level`` band of counts expected under uniformity.

        Args:
            quantities: names to draw (default all).
            num_bins: histogram bins (default as in the test).
            level: coverage of the grey band (``Binomial(N, p_bin)`` quantiles).
            ax: a matplotlib Axes (for one quantity) or a sequence of Axes, one per quantity;
                default a new figure with a grid of panels.

        Returns:
            The matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        names = self.quantities if quantities is None else list(quantities)
        unknown = [n for n in names if n not in self.quantities]
        if unknown:
            raise ValueError(f"SBCResult.plot: unknown quantities {unknown}; choose from {self.quantities}.")
        if num_bins is None:
            num_bins = default_num_bins(self.num_simulations, self.num_draws)
        if ax is None:
            cols = min(4, len(names))
            rows = -(-len(names) // cols)
            fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
            axes = list(axes.ravel())
            for extra in axes[len(names) :]:
                extra.set_visible(False)
        else:
            axes = list(np.ravel(np.asarray(ax, dtype=object)))
            if len(axes) != len(names):
                raise ValueError(f"SBCResult.plot: got {len(axes)} axes for {len(names)} quantities.")
            fig = axes[0].figure
        columns = [self.quantities.index(n) for n in names]
        counts, probs = binned_counts(self.ranks[:, columns], self.num_draws, num_bins)
        lower, upper = binomial_band(self.num_simulations, probs, level)
        edges = np.concatenate([[0.0], np.cumsum(probs)]) * (self.num_draws + 1)
        p_values = self.test(num_bins)["p_value"] if self.num_simulations >= 2 else None
        for i, (a, name) in enumerate(zip(axes, names)):
            a.fill_between(edges, np.append(lower, lower[-1]), np.append(upper, upper[-1]), step="post",
                           color="0.85", label=f"{level:.0%} band")  # fmt: skip
            a.stairs(counts[:, i], edges, fill=True, alpha=0.8)
            title = name if p_values is None else f"{name}  (p = {p_values[columns[i]]:.2g})"
            a.set_title(title, fontsize=9)
            a.set_xlim(0, self.num_draws + 1)
            a.set_xlabel("rank")
        fig.tight_layout()
        return fig

    def to_dict(self, num_bins: int | None = None) -> dict[str, Any]:
        """A JSON-serialisable digest: run facts and the summary table (no per-simulation arrays)."""
        table = self.summary(num_bins)
        rows = [
            {"quantity": q, **{k: (None if np.isnan(v) else float(v)) for k, v in row.items()}}
            for q, row in table.iterrows()
        ]
        return {
            "info": self.info,
            "num_simulations": self.num_simulations,
            "num_draws": self.num_draws,
            "p_value_bonferroni": self.p_value(num_bins),
            "quantities": rows,
            "stats": {k: float(np.mean(v)) for k, v in self.stats.items()},
        }

    def __repr__(self) -> str:
        p = self.p_value()
        return (
            f"SBCResult(kernel={self.info.get('kernel')}, num_simulations={self.num_simulations}, "
            f"num_draws={self.num_draws}, quantities={len(self.quantities)}, p_value_bonferroni={p:.3g})"
        )
