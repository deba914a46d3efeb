"""`bayeskit.use_cpu_cores`: CPU cores as JAX devices, set before JAX starts (each case in a fresh process)."""

import os
import subprocess
import sys

import pytest


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    environment.update(env, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120
    )


def test_devices_follow_the_request_before_jax_starts():
    out = _run(
        "import bayeskit, jax\n"
        "n = bayeskit.use_cpu_cores(3)\n"
        "print(n, len(jax.devices()))\n"
        "print(bayeskit.use_cpu_cores(3))  # asking again for what runs is fine\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "3", "3"]


def test_default_is_one_device_per_core_or_the_xla_flag():
    out = _run("import bayeskit, jax, os\nprint(bayeskit.use_cpu_cores(), len(os.sched_getaffinity(0)))")
    assert out.returncode == 0, out.stderr
    given, cores = out.stdout.split()
    assert given == cores
    flagged = _run(
        "import bayeskit, jax\nprint(bayeskit.use_cpu_cores(), len(jax.devices()))",
        XLA_FLAGS="--xla_force_host_platform_device_count=5",
    )
    assert flagged.returncode == 0, flagged.stderr
    assert flagged.stdout.split() == ["5", "5"]


def test_after_jax_started_a_different_count_is_a_clear_error():
    out = _run(
        "import jax, jax.numpy as jnp\n"
        "jnp.zeros(2).block_until_ready()\n"
        "import bayeskit\n"
        "bayeskit.use_cpu_cores(4)\n"
    )
    assert out.returncode != 0
    assert "already started with 1 CPU device" in out.stderr
    assert "top of the" in out.stderr and "xla_force_host_platform_device_count=4" in out.stderr


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "2"])
def test_bad_num_devices(bad):
    import bayeskit

    with pytest.raises(ValueError, match="`num_devices` must be a positive integer"):
        bayeskit.use_cpu_cores(bad)
