"""Every CPU core as a JAX device, so that MCMC chains run in parallel on a CPU."""

from __future__ import annotations

import os
import re

import jax

__all__ = ["use_cpu_cores"]

_FORCED = re.compile(r"--xla_force_host_platform_device_count=(\d+)")


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def use_cpu_cores(num_devices: int | None = None) -> int:
    """Show JAX this machine's CPU cores as CPU devices; return how many it will use.

    On a CPU, JAX puts everything on one device unless told otherwise before it starts, and
    :func:`bayeskit.mcmc.sample` spreads chains over the devices it sees: with one device,
    four chains take turns on one core. Call this at the top of a script, before any JAX
    computation (importing bayeskit is fine)::

        import bayeskit
        bayeskit.use_cpu_cores()  # e.g. 2 devices on a 2-core machine

    Chains give the same draws on any number of devices. On a machine with a GPU, JAX still
    computes on the GPU; only its CPU devices change. ``bayeskit tour`` calls this itself.

    Args:
        num_devices: how many CPU devices (default: one per core this process may use, unless
            ``XLA_FLAGS`` already sets ``--xla_force_host_platform_device_count``, which is then
            kept).

    Raises:
        RuntimeError: JAX has already started with a different number of CPU devices.
    """
    if num_devices is None:
        forced = _FORCED.search(os.environ.get("XLA_FLAGS", ""))
        requested = int(forced.group(1)) if forced else _available_cores()
    else:
        if isinstance(num_devices, bool) or not isinstance(num_devices, int) or num_devices < 1:
            raise ValueError(f"use_cpu_cores: `num_devices` must be a positive integer, got {num_devices!r}.")
        requested = num_devices
    if _backends_started():
        running = len(jax.devices("cpu"))
        if running != requested:
            raise RuntimeError(
                f"use_cpu_cores: JAX has already started with {running} CPU device(s), and its "
                f"devices are fixed from then on. Call bayeskit.use_cpu_cores() at the top of the "
                f"script, before any JAX computation, or start Python with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={requested}."
            )
        return running
    jax.config.update("jax_num_cpu_devices", requested)
    return requested
