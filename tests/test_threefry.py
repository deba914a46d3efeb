"""The Threefry-2x32 hash and the floats made from random words (bayeskit._threefry).

NUTS draws its leaves' uniforms from this hash and its momentum from these conversions, so they
are checked bit for bit: against Random123's known-answer vectors, against ``jax.random``'s own
threefry (``fold_in`` and ``split`` are this hash of counters (0, n)), and against
``jax.random.uniform``/``normal`` fed the same words.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayeskit._threefry import normal_from_words, threefry2x32, uniform_from_words

U32 = np.uint32


@pytest.mark.parametrize(
    ("key", "counter", "expected"),
    [
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_known_answer_vectors(key, counter, expected):
    """Random123's known-answer tests for Threefry-2x32 with 20 rounds."""
    out = threefry2x32(U32(key[0]), U32(key[1]), U32(counter[0]), U32(counter[1]))
    assert tuple(int(w) for w in out) == expected


@pytest.mark.parametrize("seed", [0, 1, 2**31 - 1])
def test_the_same_hash_as_jax_random(seed):
    key = jax.random.key(seed)
    k0, k1 = np.asarray(jax.random.key_data(key))
    for n in [0, 1, 7, 123456]:
        folded = np.asarray(jax.random.key_data(jax.random.fold_in(key, n)))
        np.testing.assert_array_equal(np.stack(threefry2x32(k0, k1, U32(0), U32(n))), folded)
    counters = np.arange(5, dtype=U32)
    split = np.asarray(jax.random.key_data(jax.random.split(key, 5)))
    np.testing.assert_array_equal(np.stack(threefry2x32(k0, k1, np.zeros(5, U32), counters), axis=1), split)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (300,)])
def test_uniforms_and_normals_equal_jax_random_for_its_words(dtype, shape):
    """jax.random.uniform/normal(key, (n,)) use the words of counters (0, i), i < n."""
    for seed in [3, 4]:
        key = jax.random.key(seed)
        k0, k1 = jax.random.key_data(key)
        words = threefry2x32(k0, k1, jnp.zeros(shape, U32), jnp.arange(shape[0], dtype=U32))
        np.testing.assert_array_equal(
            np.asarray(uniform_from_words(*words, dtype)), np.asarray(jax.random.uniform(key, shape, dtype))
        )
        np.testing.assert_array_equal(
            np.asarray(jax.jit(normal_from_words, static_argnums=2)(*words, dtype)),
            np.asarray(jax.jit(jax.random.normal, static_argnums=(1, 2))(key, shape, dtype)),
        )


def test_leaf_uniforms_are_uniform_and_independent():
    """The uniforms NUTS gives its leaves: counters (depth, n) under one random seed."""
    seeds = jax.random.bits(jax.random.key(5), (2000, 2), jnp.uint32)
    depth, n = np.meshgrid(np.arange(4, dtype=U32), np.arange(8, dtype=U32), indexing="ij")
    u = jax.vmap(lambda s: uniform_from_words(*threefry2x32(s[0], s[1], depth, n), jnp.float64))(seeds)
    u = np.asarray(u).reshape(2000, -1)  # one row per seed, 32 leaves each
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    corr = np.corrcoef(u, rowvar=False)[np.triu_indices(u.shape[1], 1)]
    assert np.max(np.abs(corr)) < 0.1  # 496 pairs of 2,000 draws: sd of a correlation ~0.022
    assert stats.kstest(u[:, 0] - u[:, 1], stats.triang(c=0.5, loc=-1, scale=2).cdf).pvalue > 1e-3


def test_rejects_other_float_widths():
    with pytest.raises(TypeError, match="float32 or float64"):
        uniform_from_words(jnp.zeros(2, U32), jnp.zeros(2, U32), jnp.float16)
