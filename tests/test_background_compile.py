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


def test_an_error_raised_while_compiling_does_not_abort_the_process(tmp_path):
    """A caller that raises while its program compiles (a bad argument to a GP fit, say) used
    to leave a daemon thread inside XLA at interpreter exit, which aborted the process
    (exit code 134, "terminate called ..."). The thread is not a daemon: the exit waits."""
    import subprocess
    import sys

    script = tmp_path / "raise_while_compiling.py"
    script.write_text(
        "import jax, jax.numpy as jnp\n"
        "from bayeskit._background_compile import BackgroundCompile\n"
        "def f(x):\n"
        "    for _ in range(60):\n"
        "        x = jnp.sin(x) @ x.T + jnp.cumsum(x, axis=0)\n"
        "    return x\n"
        "job = BackgroundCompile(jax.jit(f).lower(jax.ShapeDtypeStruct((64, 64), jnp.float32)))\n"
        "assert not job._thread.daemon\n"
        "raise SystemExit(3)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
