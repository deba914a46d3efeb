"""Argument checks shared across bayeskit: one wording for the same mistake everywhere.

Each check names the function the user called (``owner``) and the argument, says what was
expected, and returns the value in its plain Python form.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_int", "check_positive_number"]


def check_int(owner: str, name: str, value, minimum: int = 1) -> int:
    """An integer (not a bool, not a float) at least ``minimum``: a count, a size, a number of steps."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_positive_number(owner: str, name: str, value) -> float:
    """A finite real number above zero, given as a Python or NumPy scalar: a tolerance, a scale."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{owner}: `{name}` must be a finite positive number, got {value!r}.")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: `{name}` must be a finite positive number, got {value!r}.")
    return float(value)
