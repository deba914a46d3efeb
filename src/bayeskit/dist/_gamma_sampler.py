"""Gamma draws, in log space, by a rejection loop over the whole array (every gamma-based family).

``jax.random.gamma``/``loggamma`` run Marsaglia and Tsang's method one element at a time on a CPU
(``lax.map`` over the elements, each with nested while loops). Here each round proposes for every
element at once and keeps each element's first accepted proposal, until all are accepted. On this
project's 2-core machine (``benchmarks/gamma_sampler.py``, float64) the draw compiles in 0.6 s
instead of 0.9-1.3 s, and a million draws run 5-8x faster.

Method (G. Marsaglia and W. W. Tsang, "A simple method for generating gamma variables", ACM TOMS
26(3), 2000): for shape ``b >= 1`` put ``d = b - 1/3``, ``c = 1 / sqrt(9 d)``; draw ``x ~ N(0, 1)``
and ``u ~ U(0, 1)``, set ``v = (1 + c x)^3`` and accept ``d v`` when ``v > 0`` and
``log u < x^2 / 2 + d - d v + d log v``. At least 95% of proposals are accepted for any ``b >= 1``,
so a million draws need about six rounds. A shape ``a < 1`` is drawn as ``Gamma(a + 1) U^(1/a)``,
in log space ``log Gamma(a + 1) - E / a`` with ``E ~ Exp(1)``, so tiny shapes do not underflow.

Draws are reparameterised: the derivative of a draw ``x`` in its shape is the implicit one,
``dx/da = -(dF/da) / p(x)`` with ``F`` the gamma CDF (``jax.lax.random_gamma_grad``), which does not
depend on how ``x`` was drawn; for the log draw it is divided by ``x``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["gamma_sample", "log_gamma_sample"]


@jax.custom_jvp
def _with_implicit_gradient(a, log_x):
    """``log_x`` (a log gamma draw of shape ``a``), carrying the implicit derivative in ``a``."""
    return log_x


@_with_implicit_gradient.defjvp
def _with_implicit_gradient_jvp(primals, tangents):
    a, log_x = primals
    a_dot, _ = tangents
    x = jnp.maximum(jnp.exp(log_x), jnp.finfo(log_x.dtype).tiny)  # underflow: the smallest float
    return log_x, a_dot * jax.lax.random_gamma_grad(a, x) / x


def _marsaglia_tsang(key, b):
    """log of Gamma(b, 1) draws for an array ``b >= 1`` (shape and dtype those of ``b``).

    An element outside the method's domain (NaN, below 1) would never be accepted and the loop
    would never end: it starts accepted and comes out NaN (``+inf`` for an infinite shape).
    """
    valid = jnp.isfinite(b) & (b >= 1.0)
    b_ok = jnp.where(valid, b, 1.0)
    d = b_ok - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)

    def cond(carry):
        return ~jnp.all(carry[2])

    def body(carry):
        i, log_v, accepted = carry
        k_x, k_u = jax.random.split(jax.random.fold_in(key, i))
        x = jax.random.normal(k_x, b.shape, b.dtype)
        u = jax.random.uniform(k_u, b.shape, b.dtype)
        s = 1.0 + c * x
        inside = s > 0
        log_v_new = 3.0 * jnp.log(jnp.where(inside, s, 1.0))
        v = jnp.exp(log_v_new)
        accept = inside & (jnp.log(u) < 0.5 * x * x + d - d * v + d * log_v_new)
        log_v = jnp.where(accept & ~accepted, log_v_new, log_v)
        return i + 1, log_v, accepted | accept

    init = (jnp.zeros((), jnp.int32), jnp.zeros(b.shape, b.dtype), ~valid)
    log_g = jnp.log(d) + jax.lax.while_loop(cond, body, init)[1]
    return jnp.where(valid, log_g, jnp.where(b == jnp.inf, jnp.inf, jnp.nan))


def log_gamma_sample(key, a, shape, dtype=None):
    """log of Gamma(``a``, 1) draws of ``shape`` (``a`` broadcasts to it), reparameterised in ``a``.

    Compiled once per shape and dtype: called eagerly, a rejection loop's closures are new on every
    call, so without ``jit`` each call compiled it again (0.4 s for 1,000 draws, every time).

    Args:
        key: a PRNG key.
        a: the shape (concentration), positive.
        shape: the output's shape.
        dtype: a floating dtype; by default ``a``'s (JAX's default float for an integer ``a``).
    """
    if dtype is None:
        dtype = jnp.result_type(a, float)
    return _log_gamma_sample(key, a, tuple(shape), jnp.dtype(dtype))


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _log_gamma_sample(key, a, shape, dtype):
    a = jnp.broadcast_to(jnp.asarray(a, dtype), shape)
    a_fixed = jax.lax.stop_gradient(a)
    small = a_fixed < 1.0
    k_loop, k_boost = jax.random.split(key)
    log_g = _marsaglia_tsang(k_loop, jnp.where(small, a_fixed + 1.0, a_fixed))
    boost = jax.random.exponential(k_boost, shape, dtype) / jnp.where(small, a_fixed, 1.0)
    log_x = jnp.where(small, log_g - boost, log_g)
    return _with_implicit_gradient(a, log_x)


def gamma_sample(key, a, shape, dtype=None):
    """Gamma(``a``, 1) draws of ``shape``, reparameterised in ``a`` (``exp`` of ``log_gamma_sample``)."""
    return jnp.exp(log_gamma_sample(key, a, shape, dtype))
