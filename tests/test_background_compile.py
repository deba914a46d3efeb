"""Compiling a lowered program on a background thread."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayeskit._background_compile import BackgroundCompile


def test_compiles_and_runs_like_jit():
    lowered = jax.jit(lambda x: jnp.cumsum(x) * 2.0).lower(jax.ShapeDtypeStruct((5,), jnp.float32))
    compiled, seconds = BackgroundCompile(lowered).result()
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(compiled(x)), np.cumsum(x) * 2.0)
    assert seconds >= 0.0


def test_an_error_in_compiling_reaches_the_caller():
    class Broken:
        def compile(self, **options):
            raise ValueError(f"cannot compile with {options}")

    job = BackgroundCompile(Broken(), flag=1)
    with pytest.raises(ValueError, match="cannot compile with {'flag': 1}"):
        job.result()
