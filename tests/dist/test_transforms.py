"""Tests for bayeskit.dist.transforms: round trips, support, exact log-Jacobians, shapes, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bayeskit.dist import constraints as C
from bayeskit.dist._independent import _IndependentConstraint
from bayeskit.dist.transforms import (
    CorrCholeskyTransform,
    ExpTransform,
    IdentityTransform,
    IndependentTransform,
    IntervalTransform,
    LowerBoundTransform,
    LowerCholeskyTransform,
    OrderedTransform,
    PositiveDefiniteTransform,
    PositiveOrderedTransform,
    StickBreakingTransform,
    biject_to,
)

LO = np.array([-1.0, 0.0, 2.5])
HI = np.array([1.0, 0.5, 7.0])


# Each ``free`` map takes a constrained value with ``nb`` leading batch dimensions and returns the
# free coordinates of each event as a vector: shape ``batch + (m,)``.
def _elementwise(x, nb):
    return x.reshape(x.shape[:nb] + (-1,))


def _drop_last(x, nb):
    return _elementwise(x[..., :-1], nb)


def _tril(k):
    def free(x, nb):
        rows, cols = np.tril_indices(x.shape[-1], k)
        return _elementwise(x[..., rows, cols], nb)

    return free


# (id, constraint, expected transform type, free-coordinates map, unconstrained z shapes)
CASES = [
    ("real", C.real, IdentityTransform, _elementwise, [(2, 3)]),
    ("real_vector", C.real_vector, IdentityTransform, _elementwise, [(2, 3)]),
    ("positive", C.positive, ExpTransform, _elementwise, [(), (2, 3)]),
    ("nonnegative", C.nonnegative, ExpTransform, _elementwise, [(3,)]),
    ("greater_than", C.greater_than(-1.5), LowerBoundTransform, _elementwise, [()]),
    ("greater_than_array", C.greater_than(LO), LowerBoundTransform, _elementwise, [(2, 3)]),
    ("unit_interval", C.unit_interval, IntervalTransform, _elementwise, [()]),
    ("interval", C.interval(-2.0, 3.0), IntervalTransform, _elementwise, [(3,)]),
    ("interval_array", C.interval(LO, HI), IntervalTransform, _elementwise, [(2, 3)]),
    ("simplex", C.simplex, StickBreakingTransform, _drop_last, [(1,), (2, 4)]),
    ("ordered", C.ordered, OrderedTransform, _elementwise, [(2, 3)]),
    ("positive_ordered", C.positive_ordered, PositiveOrderedTransform, _elementwise, [(1,), (2, 3)]),
    ("lower_cholesky", C.lower_cholesky, LowerCholeskyTransform, _tril(0), [(2, 6)]),
    ("corr_cholesky", C.corr_cholesky, CorrCholeskyTransform, _tril(-1), [(1,), (10,)]),
    ("positive_definite", C.positive_definite, PositiveDefiniteTransform, _tril(0), [(1,), (2, 6)]),
    ("indep_positive", _IndependentConstraint(C.positive, 1), IndependentTransform, _elementwise, [(2, 3)]),
    ("indep_simplex", _IndependentConstraint(C.simplex, 1), IndependentTransform, _drop_last, [(2, 2, 3)]),
    ("indep_corr", _IndependentConstraint(C.corr_cholesky, 1), IndependentTransform, _tril(-1), [(2, 2, 3)]),
]

PARAMS = [
    pytest.param(c, kind, free, shape, id=f"{name}-{shape}")
    for name, c, kind, free, shapes in CASES
    for shape in shapes
]


def _z(shape, seed=0, scale=1.3):
    # numpy, not jax.random: eager JAX ops compile once per new shape and slow the test down.
    return scale * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("c, kind, free, shape", PARAMS)
def test_transform(c, kind, free, shape):
    """Round trips, support, exact log-det, shapes, jit/vmap agreement and finite gradients.

    Everything a case needs is computed in one jitted function (the transform passed as a pytree
    argument), so each case compiles once.
    """
    t = biject_to(c)
    assert isinstance(t, kind)
    z, z2 = _z(shape), _z(shape, seed=1)
    nb = len(shape) - t.unconstrained_event_dim
    batch = shape[:nb]
    B = math.prod(batch)
    signs = np.where(np.arange(math.prod(shape)) % 2 == 0, 1.0, -1.0).reshape(shape)
    extremes = np.stack([np.zeros(shape), 12.0 * signs, -12.0 * signs])

    @jax.jit
    def compute(t, z, z2, extremes):
        x, x2 = t(z), t(z2)
        out = {
            "x": x,
            "x2": x2,
            "z_back": t.inverse(x),
            "x2_back": t(t.inverse(x2)),
            "ok": c.check(x),
            "ld": t.log_abs_det_jacobian(z),
        }

        # Batch elements are independent, so the full Jacobian is block diagonal: keep the blocks.
        def free_flat(v):
            return free(t(v.reshape(shape)), nb).reshape(B, -1)

        J = jax.jacfwd(free_flat)(z.reshape(B, -1))
        out["blocks"] = J[jnp.arange(B), :, jnp.arange(B), :]

        pair = jnp.stack([z, z2])
        out["vmap_x"], out["vmap_ld"] = jax.vmap(t)(pair), jax.vmap(t.log_abs_det_jacobian)(pair)
        out["stack_x"], out["stack_ld"] = t(pair), t.log_abs_det_jacobian(pair)

        def objective(v):
            return jnp.sum(t.log_abs_det_jacobian(v)) + jnp.sum(jnp.tanh(t(v)))

        out["grads"] = jax.vmap(jax.grad(objective))(extremes)
        # Central differences at z = 0, where kinks in |x| or max(x, 0) would give a wrong gradient.
        h = 1e-6
        basis = h * jnp.eye(z.size).reshape((z.size,) + shape)
        out["fd_at_zero"] = (jax.vmap(objective)(basis) - jax.vmap(objective)(-basis)) / (2 * h)
        out["ld_extremes"] = jax.vmap(t.log_abs_det_jacobian)(extremes)
        return out

    out = jax.tree.map(np.asarray, compute(t, z, z2, extremes))
    # Round trips and support.
    np.testing.assert_allclose(out["z_back"], z, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["x2_back"], out["x2"], rtol=1e-9, atol=1e-9)
    assert np.all(out["ok"])
    # log|det| against autodiff on the free coordinates.
    assert out["ld"].shape == batch
    blocks = out["blocks"]
    assert blocks.shape[1] == blocks.shape[2]
    _, logabs = np.linalg.slogdet(blocks)
    np.testing.assert_allclose(out["ld"].reshape(-1), logabs, rtol=0, atol=1e-8)
    # Shapes.
    x = out["x"]
    assert t.constrained_shape(z.shape) == x.shape
    assert t.unconstrained_shape(x.shape) == z.shape
    assert x.ndim - t.constrained_event_dim == nb
    # vmap equals a leading batch dimension (jit equals no-jit is in the Stan-formula tests below).
    np.testing.assert_allclose(out["vmap_x"], out["stack_x"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out["vmap_ld"], out["stack_ld"], rtol=1e-12, atol=1e-14)
    # Gradients: finite at z = 0 and at |z| = 12, and right at z = 0.
    assert np.all(np.isfinite(out["grads"]))
    np.testing.assert_allclose(out["grads"][0].reshape(-1), out["fd_at_zero"], rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(out["ld_extremes"]))


@jax.jit
def _forward_and_log_det(t, z):
    return t(z), t.log_abs_det_jacobian(z)


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_simplex_matches_stan_stick_breaking():
    t = biject_to(C.simplex)
    x0, _ = _forward_and_log_det(t, np.zeros(4))
    np.testing.assert_allclose(x0, np.full(5, 0.2), rtol=1e-12)
    # Stan's loop, written out for K = 3.
    z = np.array([0.4, -1.1])
    u1, u2 = _sigmoid(z[0] - math.log(2.0)), _sigmoid(z[1] - math.log(1.0))
    x1 = u1
    x2 = (1 - x1) * u2
    expected = math.log(u1 * (1 - u1)) + math.log(u2 * (1 - u2) * (1 - x1))
    x, ld = _forward_and_log_det(t, z)
    np.testing.assert_allclose(x, [x1, x2, 1 - x1 - x2], rtol=1e-12)
    np.testing.assert_allclose(ld, expected, rtol=1e-12)
    # Without jit too.
    np.testing.assert_allclose(t(z), x, rtol=1e-12)
    np.testing.assert_allclose(t.log_abs_det_jacobian(z), ld, rtol=1e-12)


def test_cholesky_packing_orders():
    a, b, c = 0.3, -0.7, 1.1
    L, _ = _forward_and_log_det(biject_to(C.lower_cholesky), np.array([a, b, c]))
    np.testing.assert_allclose(L, [[math.exp(a), 0.0], [b, math.exp(c)]], rtol=1e-12)

    y = np.array([0.5, -0.2, 0.9])  # entries (1,0), (2,0), (2,1)
    c10, c20, c21 = np.tanh(y)
    expected = np.array(
        [
            [1.0, 0.0, 0.0],
            [c10, math.sqrt(1 - c10**2), 0.0],
            [c20, c21 * math.sqrt(1 - c20**2), math.sqrt((1 - c20**2) * (1 - c21**2))],
        ]
    )
    # Stan: sum log(1 - c^2) + 0.5 log(1 - sum of squares so far) for j >= 1.
    stan = np.sum(np.log1p(-(np.tanh(y) ** 2))) + 0.5 * math.log(1 - c20**2)
    L, ld = _forward_and_log_det(biject_to(C.corr_cholesky), y)
    np.testing.assert_allclose(L, expected, rtol=1e-12)
    np.testing.assert_allclose(ld, stan, rtol=1e-12)


def test_positive_definite_log_det_is_stans():
    z = _z((6,))
    L, _ = _forward_and_log_det(biject_to(C.lower_cholesky), z)
    diag = np.log(np.diag(np.asarray(L)))
    stan = 3 * math.log(2.0) + sum((3 - k + 1) * diag[k] for k in range(3))
    X, ld = _forward_and_log_det(biject_to(C.positive_definite), z)
    np.testing.assert_allclose(ld, stan, rtol=1e-12)
    np.testing.assert_allclose(X, np.asarray(L) @ np.asarray(L).T, rtol=1e-12)


def test_interval_with_traced_bounds():
    z = np.array([0.3, -1.2])

    def f(lo, hi):
        t = biject_to(C.interval(lo, hi))
        return jnp.sum(t(z)) + jnp.sum(t.log_abs_det_jacobian(z))

    lo, hi = np.array([-1.0, 0.5]), np.array([2.0, 4.0])
    g_lo, g_hi = jax.jit(jax.grad(f, argnums=(0, 1)))(lo, hi)
    s = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(g_lo, 1 - s - 1 / (hi - lo), rtol=1e-12)
    np.testing.assert_allclose(g_hi, s + 1 / (hi - lo), rtol=1e-12)
    # vmap over a batch of bounds (a hierarchical Uniform(low, high)).
    out = jax.jit(jax.vmap(lambda a: biject_to(C.interval(a, a + 1.0))(z)))(np.array([0.0, 10.0]))
    np.testing.assert_allclose(out, np.stack([s, 10.0 + s]), rtol=1e-12)


@pytest.mark.parametrize(
    "c",
    [C.boolean, C.nonnegative_integer, C.integer_interval(0, 3), _IndependentConstraint(C.boolean, 1)],
    ids=repr,
)
def test_discrete_constraint_raises(c):
    with pytest.raises(ValueError, match="discrete") as info:
        biject_to(c)
    assert "Gibbs" in str(info.value) and "marginalise" in str(info.value)


def test_unknown_constraint_raises_type_error():
    class Weird(C.Constraint):
        def check(self, x):
            return x == x

    with pytest.raises(TypeError, match="no transform is known"):
        biject_to(Weird())


@pytest.mark.parametrize(
    "t, method, shape",
    [
        (LowerCholeskyTransform(), "constrained_shape", (4,)),
        (LowerCholeskyTransform(), "unconstrained_shape", (3, 4)),
        (CorrCholeskyTransform(), "constrained_shape", (4,)),
        (PositiveDefiniteTransform(), "unconstrained_shape", (3,)),
        (StickBreakingTransform(), "unconstrained_shape", ()),
    ],
)
def test_bad_shapes_raise(t, method, shape):
    with pytest.raises(ValueError, match="expected|must have length"):
        getattr(t, method)(shape)


def test_bad_vector_length_raises_on_call():
    with pytest.raises(ValueError, match=r"K\(K\+1\)/2"):
        LowerCholeskyTransform()(np.zeros(4))
