"""Kernels: values against direct formulas and scikit-learn, algebra, gradients, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.gaussian_process import kernels as sk

from bayeskit.gp import kernels as K

rng = np.random.default_rng(0)
X1 = rng.normal(size=(7, 2))
X2 = rng.normal(size=(5, 2))


def _sqdist(A, B, ls):
    D = (A[:, None, :] - B[None, :, :]) / ls
    return np.sum(D * D, axis=-1)


@pytest.mark.parametrize(
    "kernel, reference",
    [
        (K.RBF([0.7, 1.9], 1.5), sk.ConstantKernel(1.5) * sk.RBF([0.7, 1.9])),
        (K.Matern12([0.7, 1.9], 0.4), sk.ConstantKernel(0.4) * sk.Matern([0.7, 1.9], nu=0.5)),
        (K.Matern32(0.8, 2.0), sk.ConstantKernel(2.0) * sk.Matern(0.8, nu=1.5)),
        (K.Matern52([1.1, 0.6]), sk.Matern([1.1, 0.6], nu=2.5)),
        (K.RationalQuadratic(0.9, 1.3, alpha=0.7), sk.ConstantKernel(1.3) * sk.RationalQuadratic(0.9, 0.7)),
        (K.Constant(2.5), sk.ConstantKernel(2.5)),
        (
            K.Linear(0.3) + K.Constant(0.5),
            sk.ConstantKernel(0.3) * sk.DotProduct(0.0) + sk.ConstantKernel(0.5),
        ),
        (K.Polynomial(3, 0.3, 0.5), sk.ConstantKernel(0.3) * sk.DotProduct(np.sqrt(0.5)) ** 3),
    ],
    ids=["rbf-ard", "matern12-ard", "matern32", "matern52-ard", "rq", "constant", "linear", "poly"],
)
def test_kernel_values_match_scikit_learn(kernel, reference):
    np.testing.assert_allclose(kernel(X1, X2), reference(X1, X2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kernel(X1), reference(X1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kernel.diag(X1), np.diagonal(reference(X1)), rtol=1e-10)


def test_periodic_matches_formula_and_scikit_learn_in_one_dimension():
    k = K.Periodic(lengthscale=0.8, variance=1.7, period=2.5)
    a, b = X1[:, :1], X2[:, :1]
    ref = 1.7 * sk.ExpSineSquared(0.8, 2.5)(a, b)
    np.testing.assert_allclose(k(a, b), ref, rtol=1e-10, atol=1e-12)
    # ARD version: a product of one-dimensional periodic kernels.
    kd = K.Periodic(lengthscale=[0.8, 1.3], period=[2.5, 1.0])
    direct = np.exp(
        -2 * np.sum(np.sin(np.pi * (X1[:, None] - X2[None]) / [2.5, 1.0]) ** 2 / [0.64, 1.69], -1)
    )
    np.testing.assert_allclose(kd(X1, X2), direct, rtol=1e-10)


def test_white_noise_is_on_the_diagonal_of_a_set_with_itself_only():
    k = K.White(0.3)
    np.testing.assert_allclose(k(X1), 0.3 * np.eye(7))
    np.testing.assert_allclose(k(X1, X1), np.zeros((7, 7)))
    np.testing.assert_allclose(k.diag(X1), 0.3 * np.ones(7))


def test_algebra_sum_product_and_scalar_scale():
    a, b = K.RBF(0.5), K.Matern32(2.0, 0.7)
    np.testing.assert_allclose((a + b)(X1, X2), a(X1, X2) + b(X1, X2))
    np.testing.assert_allclose((a * b)(X1, X2), a(X1, X2) * b(X1, X2))
    scaled = 3.0 * a
    assert isinstance(scaled, K.Product) and isinstance(scaled.k1, K.Constant)
    np.testing.assert_allclose(scaled(X1, X2), 3.0 * a(X1, X2))
    np.testing.assert_allclose((a * 2.0).diag(X1), 2.0 * a.diag(X1))
    assert "RBF(lengthscale=0.5, variance=1) + Matern32" in repr(a + b)
    # k + c is a learnable constant offset (as in scikit-learn); k + 0 is k, so sum() works.
    offset = a + 2.0
    assert isinstance(offset, K.Sum) and isinstance(offset.k2, K.Constant)
    np.testing.assert_allclose(offset(X1, X2), a(X1, X2) + 2.0)
    np.testing.assert_allclose((2.0 + a)(X1, X2), a(X1, X2) + 2.0)
    np.testing.assert_allclose(sum([a, b])(X1, X2), a(X1, X2) + b(X1, X2))
    with pytest.raises(ValueError, match="`variance` must be positive"):
        a + (-1.0)
    with pytest.raises(TypeError, match="added to a kernel or to a positive scalar, got an array of shape"):
        a + np.ones(3)


@pytest.mark.parametrize(
    "kernel", [K.RBF(), K.Matern12(), K.Matern32(), K.Matern52(), K.Periodic(), K.RationalQuadratic()]
)
def test_kernel_matrices_are_positive_semidefinite(kernel):
    X = rng.normal(size=(30, 2))
    eig = np.linalg.eigvalsh(np.asarray(kernel(X)))
    assert eig.min() > -1e-10


@pytest.mark.parametrize("cls", [K.Matern12, K.Matern32, K.Matern52, K.RBF])
def test_gradients_are_finite_at_zero_distance(cls):
    X = jnp.array([[0.0, 1.0], [0.0, 1.0], [0.5, 0.2]])  # a duplicated row

    def total(log_ls, X):
        k = cls(jnp.exp(log_ls))
        return jnp.sum(k(X)) + jnp.sum(k(X, X + 0.0))

    g_ls, g_x = jax.grad(total, argnums=(0, 1))(jnp.log(jnp.array([0.7, 1.2])), X)
    assert np.all(np.isfinite(g_ls)) and np.all(np.isfinite(g_x))
    # And the lengthscale gradient is the finite-difference one.
    h = 1e-6
    e = jnp.array([h, 0.0])
    fd = (total(jnp.log(jnp.array([0.7, 1.2])) + e, X) - total(jnp.log(jnp.array([0.7, 1.2])) - e, X)) / (
        2 * h
    )
    np.testing.assert_allclose(g_ls[0], fd, rtol=1e-5, atol=1e-8)


def test_constrained_values_are_what_users_see():
    k = K.RBF(lengthscale=[2.0, 3.0], variance=0.5)
    np.testing.assert_allclose(k.lengthscale, [2.0, 3.0])
    np.testing.assert_allclose(k.log_lengthscale, np.log([2.0, 3.0]))
    assert k.num_features == 2 and K.RBF().num_features is None


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="3 ARD lengthscales"):
        K.RBF(lengthscale=[1.0, 1.0, 1.0])(X1)
    with pytest.raises(ValueError, match="`lengthscale` must be positive"):
        K.Matern52(lengthscale=-1.0)
    with pytest.raises(
        TypeError, match=r"RBF: hyperparameter `lengthscale` must be a positive number .* got 'a'"
    ):
        K.RBF(lengthscale="a")
    with pytest.raises(ValueError, match="`variance` must be positive"):
        K.RBF(variance=0.0)
    with pytest.raises(ValueError, match="`period` must be positive"):
        K.Periodic(period=float("nan"))
    with pytest.raises(ValueError, match="`degree`"):
        K.Polynomial(degree=0)
    with pytest.raises(ValueError, match="`X1` must be a 2-D array"):
        K.RBF()(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="Cannot combine"):
        K.RBF([1.0, 1.0]) + K.RBF([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="`X1` has 2 columns but `X2` has 3"):
        K.RBF()(X1, np.zeros((2, 3)))
    with pytest.raises(
        TypeError, match="multiplied by a kernel or by a positive scalar, got an array of shape"
    ):
        np.array([1.0, 2.0]) * K.RBF()  # NumPy defers to the kernel instead of an object array
    assert isinstance(np.float64(2.0) * K.RBF(), K.Kernel)
    with pytest.raises(ValueError, match="`lengthscale` and `period` have different lengths"):
        K.Periodic([1.0, 1.0], 1.0, [1.0, 1.0, 1.0])  # at construction, not at first use


@pytest.mark.parametrize(
    "kernel",
    [
        K.RBF([0.7, 1.9], 1.5),
        K.RBF(0.8, 2.0),
        K.Matern12([0.7, 1.9], 0.4),
        K.Matern32(0.8, 2.0),
        K.Matern52([1.1, 0.6]),
        K.RationalQuadratic([0.9, 0.5], 1.3, alpha=0.7),
        K.Matern52([1.1, 0.6]) * K.RBF(0.9) + K.White(0.1),
    ],
    ids=["rbf-ard", "rbf", "matern12-ard", "matern32", "matern52-ard", "rq-ard", "algebra"],
)
def test_hand_written_gram_gradient_equals_autodiff(kernel):
    # `_gram` (used by the GP log marginal likelihood) has a hand-written VJP for stationary
    # kernels; it must give autodiff's gradient for every hyperparameter and the inputs, with a
    # duplicated row and an asymmetric cotangent (the marginal likelihood passes one).
    X = jnp.asarray(rng.normal(size=(12, 2))).at[3].set(0.0).at[4].set(0.0)
    G = jnp.asarray(rng.normal(size=(12, 12)))

    def through(method):
        return lambda k, X: jnp.sum(G * getattr(k, method)(*((X,) if method == "_gram" else (X, X, True))))

    np.testing.assert_allclose(kernel._gram(X), kernel(X), rtol=1e-15, atol=1e-15)
    want = jax.jit(jax.grad(through("_matrix"), argnums=(0, 1)))(kernel, X)
    got = jax.jit(jax.grad(through("_gram"), argnums=(0, 1)))(kernel, X)
    for w, g in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
