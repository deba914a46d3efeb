"""Test configuration: float64 on the CPU so exact tests can compare against scipy tightly."""

import jax

jax.config.update("jax_enable_x64", True)
