"""Check MCMC draws at the public boundary and put them in the layout the diagnostics use."""

from __future__ import annotations

import math

import numpy as np

MIN_DRAWS = 4


def as_draws(owner: str, name: str, x) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return draws as a float64 array [chain, draw, P] and the parameter shape.

    The trailing parameter axes are flattened into one axis of length ``P`` so that every
    diagnostic vectorises over it; callers reshape their result back to the parameter shape.

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
