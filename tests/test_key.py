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


def test_the_remaining_key_takers_reject_a_seed():
    """Each of these gave JAX's "invalid PRNG key data" from deep inside."""
    from bayeskit import conjugate, mcmc, nn, sbc, vi
    from bayeskit.gp import select_inducing

    t = target(_model, y=jnp.zeros(3))
    guide = vi.MeanFieldGuide(jnp.zeros(1), jnp.ones(1))
    kernel = mcmc.rwmh(t.logdensity_fn, 0.5)
    state = kernel.init(jnp.zeros(1))
    calls = {
        "BayesianLinearRegression.sample_posterior": lambda: conjugate.BayesianLinearRegression(
            jnp.zeros(2), jnp.eye(2), 2.0, 2.0
        ).sample_posterior(0),
        "NormalInverseGamma.sample_posterior": lambda: conjugate.NormalInverseGamma(
            0.0, 1.0, 2.0, 2.0
        ).sample_posterior(0),
        "select_inducing": lambda: select_inducing(0, np.zeros((4, 1)), 2),
        "Target.init": lambda: t.init(0),
        "MeanFieldGuide.sample": lambda: guide.sample(0, (2,)),
        "make_guide": lambda: vi.make_guide("lowrank", jnp.zeros(3), rank=1, key=0),
        "rank_statistics": lambda: sbc.rank_statistics(0, jnp.zeros((5, 1)), jnp.zeros(1)),
        "MLP": lambda: nn.MLP(0, 2, 1),
        r"rwmh\(...\).step": lambda: kernel.step(0, state),
    }
    for where, call in calls.items():
        with pytest.raises(TypeError, match=rf"{where}: `key` must be one JAX random key, got the int 0"):
            call()
    # A guide's sample_shape is checked as a distribution's is; one integer is (n,).
    assert guide.sample(jax.random.key(0), 4).shape == (4, 1)
    with pytest.raises(ValueError, match=r"MeanFieldGuide.sample: `sample_shape`"):
        guide.sample(jax.random.key(0), (-1,))
