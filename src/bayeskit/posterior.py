"""``Posterior``: draws, sample statistics, diagnostics, warnings, save/load, ArviZ export."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bayeskit._stacklevel import user_stacklevel

__all__ = ["Posterior", "SamplingWarning"]

_FORMAT = "bayeskit.posterior/1"

# The convergence thresholds, one set for both uses: Posterior.check warns when a quantity fails
# them, and mcmc.sample(until_converged=True) draws on until no quantity does. They are those of
# Vehtari et al. (2021), "Rank-normalization, folding, and localization: an improved R-hat":
# R-hat below 1.01, and bulk and tail ESS of at least 100 per chain (400 for four chains).
RHAT_MAX = 1.01
MIN_ESS_PER_CHAIN = 100
MIN_DRAWS_FOR_DIAGNOSTICS = 4


class SamplingWarning(UserWarning):
    """A sign that the draws may not represent the posterior (divergences, R-hat, low ESS...)."""


class Posterior:
    """Posterior draws with their sample statistics and diagnostics.

    Attributes:
        draws: ``{site: array[chain, draw, ...]}`` for every latent site and deterministic.
        sample_stats: ``{stat: array[chain, draw]}``, e.g. ``diverging``, ``tree_depth``,
            ``step_size``, ``energy``, ``acceptance_rate``, ``num_steps``.
        info: run facts (kernel, num_warmup, timings, adapted step size, ...), JSON-serialisable.
        warnings: messages about this run (also raised as :class:`SamplingWarning` by the driver).

    Example:
        >>> post = bayeskit.mcmc.sample(key, target)
        >>> post.summary()                 # mean, sd, HDI, MCSE, bulk/tail ESS, R-hat
        >>> post["theta"].shape            # (chains, draws, 8)
        >>> post.save("run.npz"); Posterior.load("run.npz")
    """

    def __init__(
        self,
        draws: dict[str, Any],
        sample_stats: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ):
        if not draws:
            raise ValueError("Posterior: `draws` is empty; it needs at least one site.")
        self.draws = {k: np.asarray(v) for k, v in draws.items()}
        shapes = {v.shape[:2] for v in self.draws.values()}
        if len(shapes) != 1 or any(v.ndim < 2 for v in self.draws.values()):
            raise ValueError(
                "Posterior: every array in `draws` must have the same leading [chain, draw] shape; "
                f"got { ({k: v.shape for k, v in self.draws.items()}) }."
            )
        self.sample_stats = {k: np.asarray(v) for k, v in (sample_stats or {}).items()}
        self.info = dict(info or {})
        self.warnings = list(warnings or [])

    # ------------------------------------------------------------------ access
    @property
    def num_chains(self) -> int:
        return next(iter(self.draws.values())).shape[0]

    @property
    def num_draws(self) -> int:
        return next(iter(self.draws.values())).shape[1]

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.draws[name]
        except KeyError:
            raise KeyError(f"Posterior has no site `{name}`; sites: {list(self.draws)}.") from None

    def __contains__(self, name: str) -> bool:
        return name in self.draws

    def flat(self, name: str) -> np.ndarray:
        """Draws of ``name`` with chains pooled: shape ``[chain * draw, ...]``."""
        x = self[name]
        return x.reshape((-1,) + x.shape[2:])

    def __repr__(self) -> str:
        sites = ", ".join(f"{k}{list(v.shape[2:])}" for k, v in self.draws.items())
        return f"Posterior({self.num_chains} chains x {self.num_draws} draws: {sites})"

    # ------------------------------------------------------------------ diagnostics
    def summary(self, prob: float = 0.94, var_names: list[str] | None = None):
        """A pandas DataFrame: mean, sd, HDI bounds, mcse_mean, mcse_sd, ess_bulk, ess_tail, r_hat."""
        from bayeskit.diagnostics import summary

        if isinstance(var_names, str):
            var_names = [var_names]
        draws = self.draws if var_names is None else {k: self[k] for k in var_names}
        return summary(draws, prob=prob)

    def check(self) -> list[str]:
        """Compute this run's warnings (divergences, tree depth, E-BFMI, R-hat, ESS), naming sites."""
        from bayeskit.diagnostics import ebfmi

        out = []
        total = self.num_chains * self.num_draws
        div = self.sample_stats.get("diverging")
        if div is not None and div.sum() > 0:
            out.append(
                f"{int(div.sum())} of {total} draws ({100 * div.mean():.1f}%) ended in a divergence: "
                "the sampler could not follow the posterior's curvature there, so the draws may be "
                "biased. Raise target_accept (e.g. 0.95) or reparameterise (non-centred hierarchies)."
            )
        depth = self.sample_stats.get("tree_depth")
        max_depth = self.info.get("max_tree_depth")
        if depth is not None and max_depth is not None:
            saturated = np.mean(depth >= max_depth)
            if saturated > 0:
                out.append(
                    f"{100 * saturated:.1f}% of draws hit the maximum tree depth ({max_depth}): "
                    "sampling was cut short and is inefficient. Raise max_tree_depth or reparameterise."
                )
        energy = self.sample_stats.get("energy")
        if energy is not None and self.num_draws >= MIN_DRAWS_FOR_DIAGNOSTICS:
            low = [i for i, e in enumerate(np.atleast_1d(ebfmi(energy))) if e < 0.3]
            if low:
                out.append(
                    f"E-BFMI below 0.3 in chain(s) {low}: the momentum resampling explores the energy "
                    "poorly (heavy tails or funnels). Reparameterise the model."
                )
        nonfinite = []
        for name, x in self.draws.items():
            if np.issubdtype(x.dtype, np.inexact) and not np.all(np.isfinite(x)):
                nonfinite.append(f"{name} ({100 * np.mean(~np.isfinite(x)):.1f}% of values)")
        if nonfinite:
            out.append(
                "NaN or infinite draws of " + ", ".join(nonfinite) + ": a deterministic computed "
                "outside its domain (log or sqrt of a negative value, a division by zero), or an "
                "overflow. Check the expression, or constrain the site it depends on."
            )
        bad_rhat, low_ess = self._convergence_problems()
        if bad_rhat:
            out.append(
                f"R-hat above {RHAT_MAX} for " + ", ".join(bad_rhat) + ": the chains disagree; run longer "
                "or check for multimodality."
            )
        if low_ess:
            floor = MIN_ESS_PER_CHAIN * self.num_chains
            out.append(
                f"effective sample size (bulk or tail) below {floor} ({MIN_ESS_PER_CHAIN} per chain) for "
                + ", ".join(low_ess)
                + ": estimates are noisy; draw more samples."
            )
        return out

    def _convergence_problems(self, min_ess: int | None = None) -> tuple[list[str], list[str]]:
        """The quantities that fail the convergence thresholds, as ``(high R-hat, low ESS)``.

        A quantity fails when its rank-normalised R-hat is above ``RHAT_MAX`` (1.01), or its tail
        ESS, or its bulk ESS, is below ``MIN_ESS_PER_CHAIN`` (100) per chain; with ``min_ess``,
        also when its bulk ESS is below ``min_ess``. Each entry names the quantity with its worst
        value, e.g. ``"mu (1.034)"`` or ``"mu (bulk 250, tail 180)"``. :meth:`check` warns of
        exactly these (without ``min_ess``) and :func:`bayeskit.mcmc.sample` with
        ``until_converged=True`` stops only when both lists are empty, so a run that stops as
        converged never warns of its R-hat or ESS. Integer draws, sites with NaN or infinite draws
        (which get their own warning) and runs of fewer than 4 draws are not assessed.
        """
        from bayeskit.diagnostics._draws import as_draws
        from bayeskit.diagnostics._rank_normal import split_normal_scores
        from bayeskit.diagnostics.ess import bulk_ess, tail_ess
        from bayeskit.diagnostics.rhat import rank_rhat

        bad_rhat: list[str] = []
        low_ess: list[str] = []
        if self.num_draws < MIN_DRAWS_FOR_DIAGNOSTICS:
            return bad_rhat, low_ess
        floor = MIN_ESS_PER_CHAIN * self.num_chains
        min_bulk = floor if min_ess is None else max(floor, min_ess)
        for name, x in self.draws.items():
            if np.issubdtype(x.dtype, np.integer) or x.size == 0 or not np.all(np.isfinite(x)):
                continue
            values, _ = as_draws("Posterior.check", f"draws[{name!r}]", x, warn_nonfinite=False)
            scores = split_normal_scores(values)  # shared by bulk R-hat and bulk ESS
            r = rank_rhat(values, scores)
            bulk, tail = bulk_ess(values, scores), tail_ess(values)
            if np.any(r > RHAT_MAX):
                bad_rhat.append(f"{name} ({np.nanmax(r):.3f})")
            if np.any(bulk < min_bulk) or np.any(tail < floor):
                low_ess.append(f"{name} (bulk {np.nanmin(bulk):.0f}, tail {np.nanmin(tail):.0f})")
        return bad_rhat, low_ess

    def warn(self) -> None:
        """Raise each of this run's warnings as a :class:`SamplingWarning`."""
        level = user_stacklevel()
        for message in self.warnings:
            warnings.warn(message, SamplingWarning, stacklevel=level)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the posterior to a ``.npz`` file (plain arrays and JSON; no pickle)."""
        path = Path(path)
        arrays = {f"draws/{k}": v for k, v in self.draws.items()}
        arrays.update({f"sample_stats/{k}": v for k, v in self.sample_stats.items()})
        meta = {"format": _FORMAT, "info": self.info, "warnings": self.warnings}
        arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
        np.savez_compressed(path, **arrays)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> Posterior:
        """Read a posterior written by :meth:`save`."""
        try:
            archive = np.load(path, allow_pickle=False)
        except ValueError:  # not an .npz (NumPy took it for a pickle)
            raise ValueError(
                f"Posterior.load: {path} is not a file written by Posterior.save (an .npz archive)."
            ) from None
        if not hasattr(archive, "files"):  # a bare .npy array
            raise ValueError(
                f"Posterior.load: {path} is a single NumPy array, not a file written by Posterior.save."
            )
        with archive as f:
            if "meta" not in f.files:
                raise ValueError(f"Posterior.load: {path} was not written by Posterior.save (no metadata).")
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(
                    f"Posterior.load: {path} has format {meta.get('format')!r}, expected {_FORMAT}."
                )
            draws = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("draws/")}
            stats = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("sample_stats/")}
        return cls(draws, stats, meta["info"], meta["warnings"])

    def to_arviz(self):
        """Convert to an ``arviz.InferenceData`` (needs the optional ``arviz`` package)."""
        try:
            import arviz as az
        except ImportError:
            raise ImportError("to_arviz needs ArviZ: pip install 'bayeskit[arviz]'.") from None
        rename = {"tree_depth": "tree_depth", "diverging": "diverging", "num_steps": "n_steps"}
        stats = {rename.get(k, k): v for k, v in self.sample_stats.items()}
        return az.from_dict(posterior=self.draws, sample_stats=stats or None)


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot store {type(x).__name__} in Posterior.info")
