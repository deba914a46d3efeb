"""Checks on observed data at the public boundary of the conjugate models.

Every check is on concrete numbers only: inside ``jit``/``vmap`` the data are tracers and are
taken as given, like distribution parameters. Shape checks are static and always run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import as_float, is_concrete

__all__ = ["observations", "check_binary", "check_counts", "check_positive", "first_bad"]


def first_bad(ok: np.ndarray, values: np.ndarray) -> str:
    """Describe the first entry where ``ok`` is False, for an error message."""
    index = np.argwhere(~ok)[0].tolist()
    where = f"index {index[0]}" if len(index) == 1 else f"index {tuple(index)}"
    return f"{values[tuple(index)].item()!r} at {where}"


def observations(owner: str, name: str, x, *, min_ndim: int = 1) -> jax.Array:
    """Return ``x`` as a float array with at least ``min_ndim`` dimensions, rejecting NaN/inf.

    Args:
        owner: the method that received ``x`` (``"NormalNormal.update"``), for the message.
        name: the argument's name.
        x: array-like data.
        min_ndim: scalars (and lower-rank arrays) are padded with leading axes to this rank,
            so that one observation can be passed without wrapping it in a list.

    Raises:
        ValueError: if ``x`` holds NaN or infinite values, or is not numeric.
    """
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{owner}: `{name}` must be a rectangular array of numbers: {err}") from None
        if x.dtype.kind not in "biuf":
            raise ValueError(f"{owner}: `{name}` must be an array of real numbers, but got dtype {x.dtype}.")
    arr = jnp.asarray(x)
    while arr.ndim < min_ndim:
        arr = arr[None]
    if is_concrete(arr):
        values = np.asarray(arr)
        ok = np.isfinite(values)
        if not ok.all():
            raise ValueError(
                f"{owner}: `{name}` must be finite, but it holds {first_bad(ok, values)}. "
                "Drop or impute missing observations before conditioning on them."
            )
    return as_float(arr)


def check_binary(owner: str, name: str, x: jax.Array) -> None:
    """Raise ``ValueError`` unless every concrete entry of ``x`` is 0 or 1."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    ok = (values == 0) | (values == 1)
    if not ok.all():
        raise ValueError(
            f"{owner}: `{name}` must hold binary outcomes (0 or 1), but it holds {first_bad(ok, values)}. "
            "Encode successes as 1 and failures as 0; for counts out of several trials pass "
            "`successes=` and `trials=` instead."
        )


def check_counts(owner: str, name: str, x: jax.Array, hint: str = "") -> None:
    """Raise ``ValueError`` unless every concrete entry of ``x`` is a non-negative whole number."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    ok = (values >= 0) & (np.floor(values) == values)
    if not ok.all():
        raise ValueError(
            f"{owner}: `{name}` must hold counts (non-negative whole numbers), but it holds "
            f"{first_bad(ok, values)}." + (f" {hint}" if hint else "")
        )


def check_positive(owner: str, name: str, x: jax.Array, hint: str = "") -> None:
    """Raise ``ValueError`` unless every concrete entry of ``x`` is strictly positive."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    ok = values > 0
    if not ok.all():
        raise ValueError(
            f"{owner}: `{name}` must be positive, but it holds {first_bad(ok, values)}."
            + (f" {hint}" if hint else "")
        )
