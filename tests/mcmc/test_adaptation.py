"""Warmup adaptation pieces: the starting metric from the start's candidates, the schedule, pooling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayeskit.dist as dist
from bayeskit.mcmc import (
    dual_averaging_init,
    dual_averaging_step_size,
    dual_averaging_update,
    initial_inverse_mass,
    welford_init,
    welford_update,
)
from bayeskit.mcmc import sample as run_sampler
from bayeskit.ppl import target

SD = np.logspace(-3, 0, 10)


def _gaussian_points(num_points, seed=0):
    z = np.random.default_rng(seed).uniform(-2.0, 2.0, size=(num_points, SD.size))
    mean = np.linspace(-1.0, 1.0, SD.size)
    return z, -(z - mean) / SD**2  # points and the gradient of a N(mean, SD^2) log density


def test_initial_inverse_mass_recovers_gaussian_variances():
    z, g = _gaussian_points(20)
    usable = np.ones(20, dtype=bool)
    np.testing.assert_allclose(initial_inverse_mass(z, g, usable), SD**2, rtol=1e-10)


def test_initial_inverse_mass_ignores_unusable_points_and_falls_back_to_the_unit_metric():
    z, g = _gaussian_points(20)
    usable = np.arange(20) < 12
    g = np.where(usable[:, None], g, np.nan)  # what a non-finite candidate looks like
    np.testing.assert_allclose(initial_inverse_mass(z, g, usable), SD**2, rtol=1e-10)
    # Fewer than 8 usable points (e.g. a given init): the unit metric.
    np.testing.assert_array_equal(initial_inverse_mass(z, g, np.arange(20) < 5), np.ones(SD.size))
    # A coordinate that does not move, or whose gradient does not change: 1 there.
    z[:, 0] = 0.5
    g[:, 1] = 3.0
    out = np.asarray(initial_inverse_mass(z, g, usable))
    assert out[0] == 1.0 and out[1] == 1.0 and np.allclose(out[2:], SD[2:] ** 2, rtol=1e-10)


def _scaled_gaussian(m):
    m.sample("x", dist.Normal(jnp.zeros(SD.size), jnp.asarray(SD)))


def test_starting_metric_shortens_warmup_on_a_badly_scaled_posterior(monkeypatch):
    """Scales over 3 orders of magnitude: a unit metric's first window needs tiny steps and deep trees."""
    import importlib

    driver = importlib.import_module("bayeskit.mcmc.sample")
    t = target(_scaled_gaussian)

    def warmup_gradients():
        post = run_sampler(
            jax.random.key(3),
            t,
            num_chains=2,
            num_warmup=200,
            num_samples=100,
            progress_bar=False,
            warn=False,
        )
        return post.info["num_warmup_gradient_evaluations"]

    estimated = warmup_gradients()
    monkeypatch.setattr(driver, "_metric_from_candidates", lambda dense_mass: lambda carry, *_: carry)
    unit = warmup_gradients()
    assert estimated < 0.5 * unit, (estimated, unit)


def test_welford_update_with_spread_adds_each_groups_variance():
    """Group means and spreads (a NUTS trajectory's moments): the total sum of squares."""
    rng = np.random.default_rng(1)
    means, spreads = rng.normal(size=(30, 3)), rng.uniform(0.5, 2.0, size=(30, 3))
    state = welford_init(3, dense=False)
    for m, v in zip(means, spreads, strict=True):
        state = welford_update(state, jnp.asarray(m), jnp.asarray(v))
    between = ((means - means.mean(axis=0)) ** 2).sum(axis=0)
    np.testing.assert_allclose(state.m2, between + spreads.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(state.mean, means.mean(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="spread"):
        welford_update(welford_init(3, dense=True), jnp.asarray(means[0]), jnp.asarray(spreads[0]))


def _window_ends(is_end):
    return (np.flatnonzero(is_end) + 1).tolist()


def test_warmup_schedule_is_stans_with_the_terminal_buffer_given():
    from bayeskit.mcmc import default_term_buffer, warmup_schedule

    # Stan's defaults (75, 50, 25) at 1,000: windows of 25, 50, 100, 200 and a stretched last one.
    is_slow, is_end = warmup_schedule(1000, 75, 50, 25)
    assert _window_ends(is_end) == [100, 150, 250, 450, 950]
    assert is_slow.sum() == 875 and not is_slow[:75].any() and not is_slow[950:].any()
    # bayeskit's default terminal buffer: 15% of warmup, at least Stan's 50.
    assert [default_term_buffer(n) for n in (100, 300, 1000, 2000)] == [50, 50, 150, 300]
    is_slow, is_end = warmup_schedule(1000, 75, default_term_buffer(1000), 25)
    assert _window_ends(is_end) == [100, 150, 250, 450, 850] and not is_slow[850:].any()
    # Too short for the buffers: 15% / 75% / 10%, one window, as in Stan.
    is_slow, is_end = warmup_schedule(100, 75, default_term_buffer(100), 25)
    assert _window_ends(is_end) == [90] and np.flatnonzero(is_slow).tolist() == list(range(15, 90))


def test_pool_inverse_mass_is_a_mean_that_ignores_one_stray_chain():
    from bayeskit.mcmc import pool_inverse_mass

    # Diagonal: per coordinate, the mean over the chains within a factor 2 of the median (here
    # 1.1 and 0.0105), the same for every chain.
    diag = np.array([[1.0, 0.01], [1.2, 0.011], [0.9, 0.009], [400.0, 5.0]])  # chain 3 strayed
    pooled = pool_inverse_mass(diag)
    assert pooled.shape == diag.shape
    np.testing.assert_allclose(pooled, np.broadcast_to([3.1 / 3, 0.03 / 3], diag.shape))
    # Coordinates decide alone: chain 3 strayed only in the first, and counts in the second.
    diag2 = np.array([[1.0, 0.01], [1.2, 0.012], [0.9, 0.009], [400.0, 0.011]])
    np.testing.assert_allclose(pool_inverse_mass(diag2)[0], [3.1 / 3, 0.042 / 4])
    # Two chains: nothing to vote with, so the median (their mean).
    np.testing.assert_allclose(pool_inverse_mass(np.array([[1.0], [100.0]]))[0], [50.5])
    # The median's neighbours always count: the middle two 1 and 10 average 5.5, and 10 is within 2.
    np.testing.assert_allclose(pool_inverse_mass(np.array([[0.1], [1.0], [10.0], [1000.0]]))[0], [10.0])
    with pytest.raises(ValueError, match="outlier_factor"):
        pool_inverse_mass(diag, outlier_factor=1.5)
    # Dense: the medoid chain's matrix (positive definite, unlike an elementwise median).
    rng = np.random.default_rng(0)
    mats = []
    for scale in (1.0, 1.1, 0.95, 300.0):
        a = rng.normal(size=(3, 3))
        mats.append(scale * (np.eye(3) + 0.1 * a @ a.T))
    pooled = pool_inverse_mass(np.stack(mats))
    assert any(np.array_equal(pooled[0], m) for m in mats[:3])
    assert np.all(pooled == pooled[0]) and np.all(np.linalg.eigvalsh(pooled[0]) > 0)


def test_pool_metric_off_adapts_each_chain_alone():
    def model(m):
        m.sample("x", dist.Normal(0.0, jnp.array([1.0, 10.0])).to_event(1))

    kwargs = dict(num_chains=2, num_warmup=60, num_samples=40, progress_bar=False, warn=False)
    own = run_sampler(jax.random.key(3), target(model), pool_metric=False, **kwargs)
    assert own.info["pool_metric"] is False
    own_diag = np.asarray(own.info["inverse_mass_matrix_diagonal"])
    assert not np.allclose(own_diag[0], own_diag[1])
    assert own.info["step_size"][0] != own.info["step_size"][1]  # each chain its own step size too


def test_a_window_ending_with_warmup_pools_both_metric_and_step_size():
    # term_buffer=0: the last slow window ends with warmup, where the step size is pooled too.
    def model(m):
        m.sample("x", dist.Normal(0.0, jnp.array([1.0, 10.0])).to_event(1))

    kwargs = dict(num_warmup=120, num_samples=10, term_buffer=0, progress_bar=False, warn=False)
    post = run_sampler(jax.random.key(1), target(model), **kwargs)
    diag = np.asarray(post.info["inverse_mass_matrix_diagonal"])
    assert np.all(diag == diag[0]) and len(set(post.info["step_size"])) == 1


def _dual_averaging_run(accept_fn, seed: int, iterations: int = 150, steps_fn=None):
    """Dual averaging fed ``accept_fn(step_size, rng)``, as warmup feeds it the kernel's statistic
    (and ``steps_fn(step_size)``, the leapfrog steps of the transition, where given)."""
    rng = np.random.default_rng(seed)
    state = dual_averaging_init(1.0)
    update = jax.jit(dual_averaging_update)
    for _ in range(iterations):
        step = float(np.exp(state.log_step_size))
        steps = None if steps_fn is None else steps_fn(step)
        state = update(state, accept_fn(step, rng), num_steps=steps)
    return state


def test_fitted_step_size_reaches_the_target_that_the_averaged_iterate_overshoots():
    # A leapfrog-like curve (_leapfrog_like): the shortfall 1 - alpha grows as step^2, and 0.8 is
    # reached at 0.5; per-transition noise as large as NUTS's acceptance statistic has.
    averaged, fitted = [], []
    for seed in range(12):
        state = _dual_averaging_run(_leapfrog_like, seed)
        averaged.append(float(np.exp(state.log_step_size_avg)))
        fitted.append(float(dual_averaging_step_size(state, 0.8)))
    averaged, fitted = np.mean(averaged), np.mean(fitted)
    assert averaged < 0.48  # Stan's estimate: acceptance about 0.83 for a target of 0.8
    assert abs(fitted - 0.5) < abs(averaged - 0.5) / 2
    assert abs(fitted - 0.5) < 0.02


def test_fitted_step_size_falls_back_to_the_averaged_iterate_without_a_usable_fit():
    # Acceptance that does not depend on the step size: no root on a falling side.
    state = _dual_averaging_run(lambda step, rng: 0.9, seed=0)
    assert np.isclose(float(dual_averaging_step_size(state, 0.8)), float(np.exp(state.log_step_size_avg)))
    # A fit whose root is far away is held to max_correction.
    state = _dual_averaging_run(lambda step, rng: 0.8 + 0.05 * rng.standard_normal() - 0.01 * np.log(step), 0)
    step = float(dual_averaging_step_size(state, 0.8, max_correction=0.1))
    assert np.exp(-0.1) - 1e-9 <= step / float(np.exp(state.log_step_size_avg)) <= np.exp(0.1) + 1e-9


def _leapfrog_like(step, rng):
    return float(np.clip(1.0 - 0.2 * (step / 0.5) ** 2 + 0.15 * rng.standard_normal(), 0.0, 1.0))


def test_keep_trajectory_length_takes_the_fitted_step_only_where_trajectories_do_not_shorten():
    chosen = {"same steps": [], "a tree depth lost": [], "fitted below averaged": []}
    for seed in range(10):
        # NUTS on a Gaussian: 7 leapfrog steps at every step size near the target; the larger
        # step is a longer trajectory for the same gradients.
        state = _dual_averaging_run(_leapfrog_like, seed, steps_fn=lambda step: 7)
        averaged, fitted = float(np.exp(state.log_step_size_avg)), float(dual_averaging_step_size(state, 0.8))
        kept = float(dual_averaging_step_size(state, 0.8, keep_trajectory_length=True))
        if fitted <= averaged:  # only ever a larger step than Stan's
            chosen["fitted below averaged"].append(np.isclose(kept, averaged, rtol=1e-6))
            continue
        chosen["same steps"].append(np.isclose(kept, fitted, rtol=1e-6))
        # Trajectories of 15 steps that fall to 7 between the averaged and the fitted step size
        # (the same for any steps_fn): half the trajectory length, so the averaged iterate is kept.
        middle = np.sqrt(averaged * fitted)
        state = _dual_averaging_run(
            _leapfrog_like, seed, steps_fn=lambda step, middle=middle: 15 if step < middle else 7
        )
        kept = float(dual_averaging_step_size(state, 0.8, keep_trajectory_length=True))
        chosen["a tree depth lost"].append(np.isclose(kept, averaged, rtol=1e-6))
    assert len(chosen["same steps"]) >= 6 and all(all(v) for v in chosen.values()), chosen


def test_keep_trajectory_length_keeps_the_averaged_iterate_without_steps_near_it_or_after_a_divergence():
    state = _dual_averaging_run(_leapfrog_like, 2, steps_fn=lambda step: 7)
    averaged, fitted = float(np.exp(state.log_step_size_avg)), float(dual_averaging_step_size(state, 0.8))
    assert fitted > 1.02 * averaged
    assert np.isclose(
        float(dual_averaging_step_size(state, 0.8, keep_trajectory_length=True)), fitted, rtol=1e-6
    )

    def kept(transitions):
        step = dual_averaging_step_size(
            state._replace(transitions=transitions), 0.8, keep_trajectory_length=True
        )
        return float(step)

    # No transitions recorded: nothing to read the trajectory length from.
    assert np.isclose(kept(jnp.zeros_like(state.transitions)), averaged, rtol=1e-6)
    # A divergence at the averaged step size vetoes the larger one; one at a step size far above
    # the fitted one (as right after dual averaging restarts at ten times the step) does not.
    u_avg = float(state.log_step_size_avg - (state.mu - jnp.log(10.0)))
    for u, veto in ((u_avg, True), (u_avg + 1.0, False)):
        transitions = state.transitions.at[0].set(jnp.array([u, 7.0, 1.0]))
        assert np.isclose(kept(transitions), averaged if veto else fitted, rtol=1e-6), (u, veto)
