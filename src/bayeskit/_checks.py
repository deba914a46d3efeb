"""Argument checks shared across bayeskit: one wording for the same mistake everywhere.

Each check names the function the user called (``owner``) and the argument, says what was
expected, and returns the value in its plain Python form.
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["as_real_scalar", "check_int", "check_positive_number", "non_numeric", "one_point_hint"]


def check_int(owner: str, name: str, value, minimum: int = 1) -> int:
    """An integer (not a bool, not a float) at least ``minimum``: a count, a size, a number of steps."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def as_real_scalar(value) -> float | None:
    """``value`` as a Python float when it is one real number (a Python, NumPy or concrete JAX
    scalar, or a 0-d array; not a bool, a string or a sequence), else None."""
    if isinstance(value, bool | str | bytes) or np.ndim(value) != 0:
        return None
    try:
        dtype = np.asarray(value).dtype
    except Exception:  # a traced value, or an object NumPy cannot read
        return None
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        return None
    return float(value)


def check_positive_number(owner: str, name: str, value) -> float:
    """A finite real number above zero (a Python, NumPy or JAX scalar): a tolerance, a scale."""
    number = as_real_scalar(value)
    if number is None or not (np.isfinite(number) and number > 0):
        raise ValueError(f"{owner}: `{name}` must be a finite positive number, got {value!r}.")
    return number


def non_numeric(value) -> str | None:
    """None when ``value`` (a JAX array, NumPy array, list or scalar) holds numbers or booleans;
    otherwise a description of what it holds (``"dtype <U1"``, a type name) for an error message."""
    if isinstance(value, jax.Array):  # numbers or booleans by construction (also when traced)
        return "a JAX random key" if jax.numpy.issubdtype(value.dtype, jax.dtypes.prng_key) else None
    try:
        host = np.asarray(value)
    except (TypeError, ValueError):
        return type(value).__name__
    if np.issubdtype(host.dtype, np.number) or host.dtype == np.bool_:
        return None
    return f"dtype {host.dtype}"


def one_point_hint(name: str, num_rows: int, num_features: int, column: str = "column") -> str:
    """The hint for a 1-D input of ``num_features`` entries read as ``num_rows`` points of one
    ``column``: most likely one point given without its row axis."""
    if num_rows != num_features:
        return ""
    return (
        f" A 1-D `{name}` is read as one {column} of {num_rows} points; for one point with "
        f"{num_features} features pass shape (1, {num_features}), e.g. {name}[None]."
    )
