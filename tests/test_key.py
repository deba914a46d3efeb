"""Every entry point that draws random numbers says clearly when it is given a seed, not a key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayeskit.dist as dist
from bayeskit._key import check_key
from bayeskit.ppl import target


def test_check_key_accepts_typed_and_raw_keys_even_when_traced():
    typed, raw = jax.random.key(0), jax.random.PRNGKey(0)
    assert check_key(typed, "f") is typed and check_key(raw, "f") is raw
    # Inside jit the key is a tracer: the check reads only dtype and shape.
    out = jax.jit(lambda k: jax.random.normal(check_key(k, "f")))(typed)
    assert np.isfinite(out)


@pytest.mark.parametrize(
    "bad, shown",
    [
        (0, "the int 0"),
        (np.int64(3), "the int64 3"),
        (None, "None"),
        (jnp.zeros(2), "dtype float"),
        (jax.random.split(jax.random.key(0), 3), "a batch of (3,) keys"),
        ("seed", "a str"),
    ],
)
def test_check_key_names_the_function_the_value_and_the_fix(bad, shown):
    with pytest.raises(TypeError, match=r"mcmc\.sample: `key` must be one JAX random key") as err:
        check_key(bad, "mcmc.sample")
    assert shown in str(err.value) and "jax.random.key(0)" in str(err.value)


def _model(m, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    with m.plate("n", 3):
        m.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_entry_points_reject_a_seed_before_any_work():
    from bayeskit import gp, optimize, sbc, vi
    from bayeskit.mcmc import sample
    from bayeskit.ppl import predictive, sample_prior

    t = target(_model, y=jnp.zeros(3))
    fitted = gp.GPR(gp.kernels.RBF()).fit(np.linspace(0, 1, 8)[:, None], np.sin(np.linspace(0, 3, 8)))
    calls = {
        "mcmc.sample": lambda: sample(0, t, progress_bar=False),
        "vi.fit": lambda: vi.fit(0, t, num_steps=10),
        "sbc.run": lambda: sbc.run(0, _model, num_simulations=2),
        "sample_prior": lambda: sample_prior(0, _model, num_samples=2),
        "predictive": lambda: predictive(0, _model, {"mu": jnp.zeros(2)}),
        "optimize.map": lambda: optimize.map(0, t),
        "optimize.laplace": lambda: optimize.laplace(0, t),
        "GPR.sample": lambda: fitted.sample(0, np.zeros((2, 1))),
    }
    for where, call in calls.items():
        with pytest.raises(TypeError, match=rf"{where}: `key` must be one JAX random key, got the int 0"):
            call()
