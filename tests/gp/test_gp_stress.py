"""Stress suite: every hard case ends in a finite fit (jitter reported) or a typed error, never NaN."""

import jax.numpy as jnp
import numpy as np
import pytest

from bayeskit.gp import GPR, NotPositiveDefiniteError
from bayeskit.gp import kernels as K

rng = np.random.default_rng(7)
X = rng.uniform(-2, 2, size=(30, 2))
y = np.sin(2 * X[:, 0]) * np.cos(X[:, 1]) + 0.05 * rng.normal(size=30)


def _finite_fit_or_typed_error(gp, X, y):
    """Fit; on success everything reported must be finite. Returns the fitted model or None."""
    try:
        fitted = gp.fit(X, y)
    except NotPositiveDefiniteError as err:
        assert "noise" in str(err)  # the error says what to change
        return None
    pred = fitted.predict(X[:7])
    for name, value in [
        ("log marginal likelihood", fitted.log_marginal_likelihood()),
        ("mean", pred.mean),
        ("latent_var", pred.latent_var),
        ("predictive_var", pred.predictive_var),
        ("jitter", fitted.jitter),
    ]:
        assert np.all(np.isfinite(np.asarray(value))), f"{name} is not finite"
    assert np.all(np.asarray(pred.latent_var) >= 0)
    return fitted


def test_duplicated_inputs():
    Xd = np.repeat(X[:10], 3, axis=0)  # each input three times, with its own noisy target
    yd = np.sin(2 * Xd[:, 0]) * np.cos(Xd[:, 1]) + 0.05 * rng.normal(size=30)
    fitted = _finite_fit_or_typed_error(GPR(K.RBF(jnp.ones(2)), noise=1e-8), Xd, yd)
    assert fitted is not None and 1e-4 < float(fitted.noise) < 1e-1
    # Exact duplicates (targets too) make the likelihood grow without bound as noise -> 0:
    # the fit must still end finite, with the jitter it needed reported.
    exact = _finite_fit_or_typed_error(GPR(K.RBF(jnp.ones(2)), noise=1e-8), Xd, np.repeat(y[:10], 3))
    assert exact is None or float(exact.jitter) >= 0


def test_inputs_scaled_by_a_million():
    fitted = _finite_fit_or_typed_error(GPR(K.RBF(jnp.ones(2)), noise=0.1), X * 1e6, y)
    assert fitted is not None
    # With the lengthscale in the units of the data the same fit is found as on the original scale.
    scaled = _finite_fit_or_typed_error(GPR(K.RBF(1e6 * jnp.ones(2)), noise=0.1), X * 1e6, y)
    plain = _finite_fit_or_typed_error(GPR(K.RBF(jnp.ones(2)), noise=0.1), X, y)
    np.testing.assert_allclose(scaled.log_marginal_likelihood(), plain.log_marginal_likelihood(), rtol=1e-4)


def test_noise_free_data_with_tiny_noise():
    smooth = np.sin(X[:, 0]) + X[:, 1]
    fitted = _finite_fit_or_typed_error(GPR(K.RBF(jnp.ones(2)), noise=1e-8), X, smooth)
    assert fitted is not None
    np.testing.assert_allclose(fitted.predict(X[:7]).mean, smooth[:7], atol=1e-3)


@pytest.mark.parametrize("lengthscale", [1e-6, 1e6])
def test_extreme_starting_lengthscales(lengthscale):
    _finite_fit_or_typed_error(GPR(K.RBF(lengthscale * jnp.ones(2)), noise=1e-6), X, y)


def test_float32_end_to_end():
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    gp = GPR(K.Matern52(jnp.ones(2, jnp.float32), jnp.float32(1.0)), noise=jnp.float32(1e-2))
    fitted = _finite_fit_or_typed_error(gp, X32, y32)
    assert fitted is not None
    assert fitted.predict(X32[:7]).mean.dtype == jnp.float32
    ref = GPR(K.Matern52(jnp.ones(2)), noise=1e-2).fit(X, y)
    np.testing.assert_allclose(fitted.log_marginal_likelihood(), ref.log_marginal_likelihood(), rtol=1e-3)


def test_float32_inputs_with_float64_hyperparameters():
    # Under x64 a hyperparameter left at its Python default is float64 beside float32 ones: the
    # gradients must come back in each parameter's own dtype (this raised a raw JAX TypeError).
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    for kernel, noise in ((K.RBF(jnp.ones(2, jnp.float32)), jnp.float32(1e-2)), (K.Matern52(1.0), 1e-2)):
        fitted = _finite_fit_or_typed_error(GPR(kernel, noise=noise), X32, y32)
        assert fitted is not None


def _dot_precisions(jaxpr) -> list:
    """The precision of every matrix product in a jaxpr, its inner jaxprs included."""
    import jax

    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn.params["precision"])
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    found += _dot_precisions(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    found += _dot_precisions(sub)
    return found


def test_float32_matrix_products_ask_for_full_precision():
    # On GPUs JAX's default float32 product is TF32 (about 3 digits), which the squared distances
    # and K_* alpha cannot afford; every product of the GP algebra asks for HIGHEST.
    import jax

    from bayeskit.gp import ZeroMean
    from bayeskit.gp.gpr import _Hyper, _log_marginal, _predict
    from bayeskit.gp.means import LinearMean
    from bayeskit.gp.sgpr import _Hyper as _SparseHyper
    from bayeskit.gp.sgpr import _objective as _sparse_objective

    X32, y32 = jnp.asarray(X[:12], jnp.float32), jnp.asarray(y[:12], jnp.float32)
    highest = (jax.lax.Precision.HIGHEST, jax.lax.Precision.HIGHEST)
    for kernel in (
        K.RBF(jnp.ones(2, jnp.float32)),
        K.Matern32(jnp.float32(1.0)) + K.Linear(jnp.float32(1.0)),
    ):
        hyper = _Hyper(
            kernel, LinearMean(weights=jnp.zeros(2, jnp.float32), bias=jnp.float32(0.0)), jnp.float32(-2.0)
        )
        programs = {
            "value and gradient": jax.make_jaxpr(jax.value_and_grad(_log_marginal))(hyper, X32, y32),
            "prediction": jax.make_jaxpr(lambda h: _predict(h, X32, jnp.eye(12), y32, X32[:3], True))(hyper),
            "SGPR bound": jax.make_jaxpr(jax.grad(_sparse_objective))(
                _SparseHyper(kernel, ZeroMean(), jnp.float32(-2.0), X32[:4]), X32, y32
            ),
        }
        for name, program in programs.items():
            precisions = _dot_precisions(program.jaxpr)
            assert precisions, name
            assert all(p == highest for p in precisions), (name, precisions)


def test_sgpr_bound_stays_finite_as_inducing_points_coalesce():
    # Learned inducing inputs can drift onto each other; the bound and its gradient must stay
    # finite all the way (jitter added as needed), or L-BFGS stalls on a NaN it cannot step out of.
    import jax

    from bayeskit.gp import SGPR
    from bayeskit.gp._sparse_inducing import inducing_cholesky

    kernel = K.RBF(lengthscale=[1.0, 1.0])
    Z0 = jnp.asarray(X[:6])

    def bound(Z):
        return SGPR(kernel, Z, noise=0.01).condition(X, y).elbo()

    for gap in (1e-3, 1e-5, 1e-7, 1e-9, 0.0):
        Z = Z0.at[1].set(Z0[0] + gap)
        L, jitter = inducing_cholesky(kernel, Z)
        Kzz = np.asarray(kernel(Z))
        np.testing.assert_allclose(np.asarray(L @ L.T), Kzz + float(jitter) * np.eye(6), atol=1e-9)
        value, grad = jax.value_and_grad(bound)(Z)
        assert np.isfinite(float(value)), gap
        assert np.all(np.isfinite(np.asarray(grad))), gap


def test_float32_hyperparameters_on_float64_data():
    # The reverse mix: float32 hyperparameters, float64 data. The stationary kernels' gradient
    # came back in float64 for float32 values, and the fit's ravelled gradient raised a raw
    # lax.concatenate dtype error. The objective is then float64, and so is the default tolerance.
    kernel = K.RBF(jnp.ones(2, jnp.float32), jnp.float32(1.0))
    fitted = _finite_fit_or_typed_error(GPR(kernel, noise=jnp.float32(1e-2)), X, y)
    assert fitted is not None and fitted.kernel.lengthscale.dtype == jnp.float32
    ref = GPR(K.RBF(jnp.ones(2)), noise=1e-2).fit(X, y)
    np.testing.assert_allclose(fitted.predict(X[:7]).mean, ref.predict(X[:7]).mean, atol=1e-5)


def test_gpc_float32_hyperparameters_on_float64_data_fit_as_float64():
    from bayeskit.gp import GPC

    labels = (y > 0).astype(np.float64)
    ref = GPC(K.RBF()).fit(X, labels, num_restarts=1)
    fitted = GPC(K.RBF(jnp.float32(1.0), jnp.float32(1.0))).fit(X, labels, num_restarts=1)
    # The float32 tolerance stopped this fit early: probabilities 2e-3 from the float64 fit's.
    np.testing.assert_allclose(fitted.predict_proba(X[:7]), ref.predict_proba(X[:7]), atol=1e-5)


@pytest.mark.parametrize("kernel", [K.RBF, K.Matern12, K.Matern32, K.Matern52, K.RationalQuadratic])
@pytest.mark.parametrize("param_dtype, data_dtype", [(jnp.float32, jnp.float64), (jnp.float64, jnp.float32)])
def test_kernel_gradients_come_back_in_each_values_dtype(kernel, param_dtype, data_dtype):
    import jax

    k = jax.tree_util.tree_map(lambda a: a.astype(param_dtype), kernel())
    Xd = jnp.asarray(X[:12], data_dtype)
    grads = jax.grad(lambda k, Z: jnp.sum(k._gram(Z)), argnums=(0, 1))(k, Xd)
    for g, p in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves((k, Xd)), strict=True):
        assert g.dtype == p.dtype


def test_gaussian_log_marginal_gradients_in_the_inputs_dtypes():
    import jax

    from bayeskit.gp import gaussian_log_marginal

    K32 = jnp.asarray(K.RBF()(X[:10]) + 0.1 * np.eye(10), jnp.float32)
    dK, dr = jax.grad(lambda K_, r: gaussian_log_marginal(K_, r)[0], argnums=(0, 1))(K32, jnp.asarray(y[:10]))
    assert dK.dtype == jnp.float32 and dr.dtype == jnp.float64


def test_laplace_evidence_gradients_in_the_inputs_dtypes():
    import jax

    from bayeskit.gp._laplace_logistic import laplace_evidence

    K32 = jnp.asarray(K.RBF()(X[:10]) + 1e-3 * np.eye(10), jnp.float32)
    labels = jnp.asarray((y[:10] > 0).astype(np.float64))
    dK, dm = jax.grad(lambda K_, m: laplace_evidence(K_, m, labels, 50, None), argnums=(0, 1))(
        K32, jnp.zeros(10)
    )
    assert dK.dtype == jnp.float32 and dm.dtype == jnp.float64


def test_half_precision_inputs_are_computed_in_float32():
    """SVGP kept bfloat16 inputs as its parameters' dtype and failed in LAPACK with a raw
    "Unsupported dtype bfloat16"; GPR promoted them already. Now every GP (and jittered_cholesky)
    computes half-precision inputs in float32 at least."""
    import jax

    from bayeskit.gp import SVGP, jittered_cholesky

    Xh, yh = jnp.asarray(X, jnp.bfloat16), jnp.asarray(np.sin(X[:, 0]), jnp.bfloat16)
    svgp = SVGP(K.RBF(), inducing_points=5).fit(
        Xh, yh, key=jax.random.key(0), num_steps=20, progress_bar=False
    )
    assert np.isfinite(svgp.fit_info.objective)
    assert svgp.predict(Xh[:3]).mean.dtype == jnp.float32  # SVGP follows its data's dtype
    L, jitter = jittered_cholesky(2.0 * jnp.eye(3, dtype=jnp.float16))
    assert L.dtype == jnp.float32 and float(jitter) == 0.0
    np.testing.assert_allclose(L, np.sqrt(2.0) * np.eye(3), rtol=1e-6)
