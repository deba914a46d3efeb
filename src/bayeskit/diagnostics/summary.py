"""One table of posterior summaries and convergence diagnostics, one row per scalar quantity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from bayeskit.diagnostics._draws import as_draws, pool
from bayeskit.diagnostics._rank_normal import split_normal_scores
from bayeskit.diagnostics.ess import bulk_ess, tail_ess
from bayeskit.diagnostics.hdi import check_prob, highest_density_interval
from bayeskit.diagnostics.mcse import standard_error_of_mean, standard_error_of_sd
from bayeskit.diagnostics.rhat import rank_rhat

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["summary"]


def hdi_column_names(prob: float) -> tuple[str, str]:
    """Return the HDI column names for ``prob``, e.g. ``("hdi_3%", "hdi_97%")`` for 0.94."""
    return f"hdi_{100 * (1 - prob) / 2:g}%", f"hdi_{100 * (1 + prob) / 2:g}%"


def element_names(name: str, param_shape: tuple[int, ...]) -> list[str]:
    """Return row names ``name`` (scalar) or ``name[i,j]`` (0-based, row-major) for each element."""
    if param_shape == ():
        return [name]
    return [f"{name}[{','.join(map(str, index))}]" for index in np.ndindex(*param_shape)]


def summary(draws: Mapping[str, object], prob: float = 0.94) -> pd.DataFrame:
    r"""Summarise posterior draws and their convergence diagnostics in a table.

    One row per scalar quantity: a scalar site ``mu`` is the row ``mu``, element ``(1, 0)`` of a
    matrix site ``L`` is the row ``L[1,0]`` (0-based, row-major). The columns are

    ==============================  ============================================================
    ``mean``, ``sd``                posterior mean and standard deviation (divisor :math:`S-1`)
    ``hdi_3%``, ``hdi_97%``         highest density interval holding ``prob`` (:func:`hdi`);
                                    the names follow ``prob``, e.g. ``hdi_5%``/``hdi_95%`` for 0.9
    ``mcse_mean``, ``mcse_sd``      Monte Carlo standard errors (:func:`mcse_mean`, :func:`mcse_sd`)
    ``ess_bulk``, ``ess_tail``      effective sample sizes (:func:`ess_bulk`, :func:`ess_tail`)
    ``r_hat``                       rank-normalised split R-hat (:func:`rhat`)
    ==============================  ============================================================

    The numbers match ``arviz.summary(..., hdi_prob=prob, round_to="none")``; ArviZ writes
    multi-index rows as ``L[1, 0]`` where this table writes ``L[1,0]``.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), 667-718.

    Args:
        draws: site name to draws shaped [chain, draw] or [chain, draw, *site_shape], each with
            at least 4 draws.
        prob: probability mass inside the highest density interval, strictly between 0 and 1.

    Returns:
        a DataFrame indexed by quantity name, with the columns above.

    Raises:
        TypeError: ``draws`` is not a mapping from names to arrays.
        ValueError: a site is not shaped [chain, draw, ...] or has fewer than 4 draws, or
            ``prob`` is not in (0, 1).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> table = summary({"mu": rng.normal(size=(4, 500)), "theta": rng.normal(size=(4, 500, 2))})
        >>> list(table.index)
        ['mu', 'theta[0]', 'theta[1]']
        >>> list(table.columns)[:4]
        ['mean', 'sd', 'hdi_3%', 'hdi_97%']
    """
    if not isinstance(draws, Mapping):
        raise TypeError(
            "summary: `draws` must be a mapping from site name to draws shaped [chain, draw, ...]; "
            f"got {type(draws).__name__}. For a single array pass {{'x': x}}."
        )
    prob = check_prob("summary", prob)
    lower_name, upper_name = hdi_column_names(prob)
    columns = ["mean", "sd", lower_name, upper_name, "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"]
    blocks, index = [], []
    for name, site_draws in draws.items():
        if not isinstance(name, str):
            raise TypeError(f"summary: site names in `draws` must be strings; got {name!r}.")
        values, param_shape = as_draws("summary", f"draws[{name!r}]", site_draws)
        if values.shape[2] == 0:
            continue
        pooled = pool(values)
        scores = split_normal_scores(values)
        interval = highest_density_interval(values, prob)
        block = np.stack(
            [
                pooled.mean(axis=0),
                pooled.std(axis=0, ddof=1),
                interval[:, 0],
                interval[:, 1],
                standard_error_of_mean(values),
                standard_error_of_sd(values),
                bulk_ess(values, scores),
                tail_ess(values),
                rank_rhat(values, scores),
            ],
            axis=1,
        )
        blocks.append(block)
        index.extend(element_names(name, param_shape))
    table = np.concatenate(blocks, axis=0) if blocks else np.empty((0, len(columns)))
    import pandas as pd  # imported here: a quarter of a second that `import bayeskit` need not pay

    return pd.DataFrame(table, index=index, columns=columns)
