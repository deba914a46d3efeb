"""The shared argument checks: one wording for the same mistake everywhere."""

import numpy as np
import pytest

from bayeskit._checks import check_int, check_positive_number, non_numeric


def test_integers_of_numpy_and_python_pass_and_others_are_named():
    assert check_int("f", "n", np.int64(3)) == 3 and check_int("f", "n", 0, minimum=0) == 0
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match="f: `n` must be an integer >= 1"):
            check_int("f", "n", bad)


def test_positive_numbers_of_numpy_and_python_pass_and_others_are_named():
    assert (
        check_positive_number("f", "tol", np.float32(0.5)) == 0.5
        and check_positive_number("f", "tol", 2) == 2.0
    )
    assert check_positive_number("f", "tol", np.array(0.25)) == 0.25  # a 0-d array is a number
    for bad in (0.0, -1.0, np.nan, np.inf, True, "a", None, np.ones(2)):
        with pytest.raises(ValueError, match="f: `tol` must be a finite positive number"):
            check_positive_number("f", "tol", bad)


def test_non_numeric_names_strings_and_objects():
    import jax.numpy as jnp
    import pandas as pd

    assert non_numeric([1.0, 2.0]) is None and non_numeric(jnp.ones(2)) is None and non_numeric(True) is None
    assert non_numeric(["a", "b"]) == "dtype <U1"
    assert non_numeric(pd.Series(["a", "b"])) == "dtype object"
