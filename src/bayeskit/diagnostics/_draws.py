"""Check MCMC draws at the public boundary and put them in the layout the diagnostics use."""

from __future__ import annotations

import math
import warnings

import numpy as np

from bayeskit._stacklevel import user_stacklevel

MIN_DRAWS = 4


def as_draws(owner: str, name: str, x, warn_nonfinite: bool = True) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return draws as a float64 array [chain, draw, P] and the parameter shape.

    The trailing parameter axes are flattened into one axis of length ``P`` so that every
    diagnostic vectorises over it; callers reshape their result back to the parameter shape.
    Draws holding NaN give NaN diagnostics for those quantities, infinite draws a non-finite mean,
    sd and MCSE (as ArviZ's); with ``warn_nonfinite`` a ``RuntimeWarning`` says so, naming how
    many and where the first is.

    Raises:
        TypeError: ``x`` does not convert to a real floating-point array.
        ValueError: ``x`` has fewer than two axes, no chain, or fewer than four draws.
    """
    try:
        array = np.asarray(x)
    except Exception as error:  # e.g. ragged nested lists
        raise TypeError(
            f"{owner}: `{name}` must be an array of draws shaped [chain, draw, *param_shape]; "
            f"it could not be converted to an array ({error})."
        ) from error
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{owner}: `{name}` must hold real numbers (bool, integer or float); got dtype "
            f"{array.dtype}. Convert it with np.asarray(..., dtype=float) first."
        )
    if array.ndim < 2:
        raise ValueError(
            f"{owner}: `{name}` must have shape [chain, draw, *param_shape]; got shape {array.shape}. "
            f"For a single chain, add the chain axis: {name}[None]."
        )
    num_chains, num_draws = array.shape[:2]
    if num_chains < 1:
        raise ValueError(f"{owner}: `{name}` has no chains (shape {array.shape}); pass at least one chain.")
    if num_draws < MIN_DRAWS:
        raise ValueError(
            f"{owner}: `{name}` has {num_draws} draws per chain (shape {array.shape}); the diagnostics "
            f"need at least {MIN_DRAWS}. Run the chains longer."
        )
    param_shape = array.shape[2:]
    draws = array.astype(np.float64).reshape(num_chains, num_draws, math.prod(param_shape))
    if warn_nonfinite and not np.isfinite(draws).all():
        bad = ~np.isfinite(array)
        first = np.argwhere(bad)[0]
        where = f"chain {first[0]}, draw {first[1]}" + (
            f", element {tuple(first[2:].tolist())}" if param_shape else ""
        )
        warnings.warn(
            f"{owner}: `{name}` holds {int(bad.sum())} NaN or infinite draw(s) (the first at {where}); "
            "the diagnostics of the quantities they belong to are NaN (for infinite draws: the mean, sd "
            "and MCSEs; ranks still order them). Find where the sampler or "
            "the model produced them (a log density or a deterministic that overflows).",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )
    return draws, param_shape


def split_chains(draws: np.ndarray) -> np.ndarray:
    """Cut every chain into its first and last halves: [chain, draw, P] -> [2 chain, draw // 2, P].

    With an odd number of draws the middle draw of each chain is left out, so that both halves
    have the same length (as in ArviZ).
    """
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]], axis=0)


def has_nan(draws: np.ndarray) -> np.ndarray:
    """Return, for each parameter column of [chain, draw, P] draws, whether any draw is NaN."""
    return np.isnan(draws).any(axis=(0, 1))


def pool(draws: np.ndarray) -> np.ndarray:
    """Return the draws of all chains together: [chain, draw, P] -> [chain * draw, P]."""
    num_chains, num_draws, num_params = draws.shape
    return draws.reshape(num_chains * num_draws, num_params)
