"""Public functions called eagerly compile once per shape, not on every call.

A ``lax.while_loop`` run outside ``jit`` is traced and compiled anew on each call, because its
body is a new closure every time: a Gamma draw of 1,000 values took 0.4 s on every call, and a
50 x 50 ``jittered_cholesky`` 170 ms. The second call with the same shapes must compile nothing.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayeskit.dist as dist
from bayeskit import gp

_compiles: list[str] = []
_listening = [False]


def _listener(name, secs, **kwargs):
    if _listening[0] and name.startswith("/jax/core/compile/"):
        _compiles.append(name)


jax.monitoring.register_event_duration_secs_listener(_listener)

KEY = jax.random.key(0)
X = np.linspace(0.0, 1.0, 8)[:, None]
FITTED = None


def _gpr_sample():
    global FITTED
    if FITTED is None:
        FITTED = gp.GPR(gp.kernels.RBF(), noise=0.1).fit(X, np.sin(6.0 * X[:, 0]), num_restarts=1)
    return FITTED.sample(KEY, X, 3)


CALLS = {
    "Gamma": lambda: dist.Gamma(2.0, 1.0).sample(KEY, 50),
    "Beta": lambda: dist.Beta(0.5, 2.0).sample(KEY, 50),
    "Dirichlet": lambda: dist.Dirichlet(jnp.ones(3)).sample(KEY, 50),
    "StudentT": lambda: dist.StudentT(3.0, 0.0, 1.0).sample(KEY, 50),
    "Poisson": lambda: dist.Poisson(jnp.array([0.5, 30.0])).sample(KEY, 50),
    "NegativeBinomial": lambda: dist.NegativeBinomial(3.0, 0.4).sample(KEY, 50),
    "LKJCholesky": lambda: dist.LKJCholesky(3, 2.0).sample(KEY, 5),
    "jittered_cholesky": lambda: gp.jittered_cholesky(jnp.ones((4, 4))),
    "GPR.sample": _gpr_sample,
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_second_eager_call_compiles_nothing(name):
    call = CALLS[name]
    jax.block_until_ready(call())
    _compiles.clear()
    _listening[0] = True
    try:
        jax.block_until_ready(call())
    finally:
        _listening[0] = False
    assert _compiles == [], f"{name}: the second call compiled again ({_compiles})"
