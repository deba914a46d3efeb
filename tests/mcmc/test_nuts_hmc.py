"""HMC and NUTS: sampling correctness, agreement with a recursive reference, and invariants.

Compiled functions live at module scope with the tuning values as traced arguments, so each
(target, kernel) pair compiles once for the whole file.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayeskit.mcmc._kernel import HMCState, Kernel
from bayeskit.mcmc.hmc import HMCInfo, hmc
from bayeskit.mcmc.integrators import IntegratorState, leapfrog
from bayeskit.mcmc.metrics import gaussian_euclidean
from bayeskit.mcmc.nuts import NUTSInfo, nuts, transition_draws

NUM_CHAINS = 4
NUM_DRAWS = 1500
SMALL_DEPTH = 6  # max_tree_depth of the invariant tests: one compilation serves them all

# ----------------------------------------------------------------------------- targets
# A: 2-D correlated Gaussian, sds (1, 2), correlation 0.8.
COV_A = np.array([[1.0, 1.6], [1.6, 4.0]])
PREC_A = np.linalg.inv(COV_A)
MEAN_A = np.array([1.0, -2.0])


def logdensity_a(x):
    d = x - MEAN_A
    return -0.5 * d @ PREC_A @ d


# B: 10-D independent Gaussian with scales 0.1 .. 10.
SCALES_B = np.logspace(-1, 1, 10)


def logdensity_b(x):
    return -0.5 * jnp.sum((x / SCALES_B) ** 2)


# C: 3-D Gaussian with strong correlations and unequal scales (for the dense metric).
_SD_C = np.array([0.5, 1.0, 5.0])
_CORR_C = np.array([[1.0, 0.9, -0.5], [0.9, 1.0, -0.7], [-0.5, -0.7, 1.0]])
COV_C = _CORR_C * np.outer(_SD_C, _SD_C)
PREC_C = np.linalg.inv(COV_C)


def logdensity_c(x):
    return -0.5 * x @ PREC_C @ x


# Banana: x1 ~ N(0, 1), x2 | x1 ~ N((x1^2 - 1) / 2, 0.5^2). Curved enough to need several
# trajectory directions, mild enough that a fixed step size of 0.2 never diverges.
def logdensity_banana(x):
    return -0.5 * x[0] ** 2 - 0.5 * ((x[1] - 0.5 * (x[0] ** 2 - 1.0)) / 0.5) ** 2


def draw_banana(key, n):
    k1, k2 = jax.random.split(key)
    x1 = jax.random.normal(k1, (n,))
    return jnp.stack([x1, 0.5 * (x1**2 - 1.0) + 0.5 * jax.random.normal(k2, (n,))], axis=-1)


def draw_gaussian(key, mean, cov, n):
    return mean + jax.random.normal(key, (n, len(mean))) @ np.linalg.cholesky(cov).T


# ----------------------------------------------------------------------------- compiled runners
@functools.partial(jax.jit, static_argnames=("logdensity_fn", "kernel", "num_integration_steps", "jitter"))
def run_chains(
    key,
    positions,
    step_size,
    inverse_mass_matrix,
    *,
    logdensity_fn,
    kernel,
    num_integration_steps=0,
    jitter=0.0,
):
    """NUM_DRAWS transitions of each chain (vmapped) from ``positions``; returns draws and infos."""
    if kernel == "nuts":
        k = nuts(logdensity_fn, step_size, inverse_mass_matrix)
    else:
        k = hmc(logdensity_fn, step_size, inverse_mass_matrix, num_integration_steps, jitter=jitter)

    def one_chain(key, position):
        def body(state, key):
            state, info = k.step(key, state)
            return state, (state.position, info)

        return jax.lax.scan(body, k.init(position), jax.random.split(key, NUM_DRAWS))[1]

    return jax.vmap(one_chain)(jax.random.split(key, positions.shape[0]), positions)


def _nuts_step_a(key, state, step_size):
    return nuts(logdensity_a, step_size, np.diag(COV_A), max_tree_depth=SMALL_DEPTH).step(key, state)


nuts_step_a = jax.jit(_nuts_step_a)
nuts_step_a_vmapped = jax.jit(jax.vmap(_nuts_step_a, in_axes=(0, 0, None)))
init_a = nuts(logdensity_a, 0.5, np.diag(COV_A)).init


# ----------------------------------------------------------------------------- statistics
def check_expectations(values, truth, num_batches=25, z_max=5.0):
    """|batch-means estimate - truth| < z_max MCSE for each column of ``values`` (chain, draw, k)."""
    values = np.asarray(values, dtype=float)
    c, n, k = values.shape
    b = n // num_batches
    means = values[:, : b * num_batches].reshape(c, num_batches, b, k).mean(axis=2).reshape(-1, k)
    estimate = means.mean(axis=0)
    mcse = means.std(axis=0, ddof=1) / math.sqrt(means.shape[0])
    z = np.abs(estimate - np.asarray(truth)) / mcse
    assert np.all(z < z_max), f"estimate {estimate}, truth {truth}, mcse {mcse}, z {z}"
    return estimate, mcse


def check_trajectory_counts(info: NUTSInfo, max_tree_depth=10):
    """What holds for num_integration_steps: 2^d - 1 <= n <= 2^(d+1) - 1, with n = 2^d - 1 at the cap."""
    d = np.asarray(info.tree_depth)
    n = np.asarray(info.num_integration_steps)
    assert d.min() >= 0 and d.max() <= max_tree_depth
    assert np.all(n >= 2**d - 1) and np.all(n <= 2 ** (d + 1) - 1)
    assert np.all(n[d == max_tree_depth] == 2**max_tree_depth - 1)
    # A divergence is found inside a subtree that is then dropped: at least one step beyond 2^d - 1.
    assert np.all(n[np.asarray(info.is_divergent)] >= 2 ** d[np.asarray(info.is_divergent)])


# ----------------------------------------------------------------------------- sampling correctness
def test_nuts_correlated_gaussian_diagonal_metric():
    # Reuses the compiled single step of the invariant tests (trees here stay well below its cap).
    states = jax.vmap(init_a)(draw_gaussian(jax.random.key(1), MEAN_A, COV_A, NUM_CHAINS))
    draws, infos = [], []
    for key in jax.random.split(jax.random.key(2), NUM_DRAWS):
        states, info = nuts_step_a_vmapped(jax.random.split(key, NUM_CHAINS), states, 0.5)
        draws.append(states.position)
        infos.append(info)
    x = np.stack(draws, axis=1)
    info = jax.tree.map(lambda *v: np.stack(v, axis=1), *infos)
    check_expectations(x, MEAN_A)
    centred = x - MEAN_A
    second = np.stack([centred[..., 0] ** 2, centred[..., 1] ** 2, centred[..., 0] * centred[..., 1]], -1)
    check_expectations(second, [COV_A[0, 0], COV_A[1, 1], COV_A[0, 1]])
    # The trajectories' weighted moments estimate the same mean and variances (what warmup's
    # metric estimate averages), with less noise than the draws.
    check_expectations(info.trajectory_mean, MEAN_A)
    rb_second = info.trajectory_variance + (info.trajectory_mean - MEAN_A) ** 2
    _, rb_mcse = check_expectations(rb_second, np.diag(COV_A))
    _, draw_mcse = check_expectations(second[..., :2], np.diag(COV_A))
    assert np.all(rb_mcse < draw_mcse), (rb_mcse, draw_mcse)
    assert not np.any(info.is_divergent)
    assert 0.6 < float(np.mean(info.acceptance_rate)) < 0.99
    assert np.max(info.tree_depth) < SMALL_DEPTH
    check_trajectory_counts(info, SMALL_DEPTH)


def test_nuts_ten_dimensional_scales():
    start = jax.random.normal(jax.random.key(3), (NUM_CHAINS, 10)) * SCALES_B
    x, info = run_chains(
        jax.random.key(4), start, 0.8, SCALES_B**2, logdensity_fn=logdensity_b, kernel="nuts"
    )
    z = np.asarray(x) / SCALES_B
    check_expectations(z, np.zeros(10))
    check_expectations(z**2, np.ones(10))
    var = z.reshape(-1, 10).var(axis=0)
    assert np.all(np.abs(var - 1.0) < 0.12), var
    assert not np.any(info.is_divergent)
    check_trajectory_counts(info)


def test_nuts_dense_metric():
    start = draw_gaussian(jax.random.key(5), np.zeros(3), COV_C, NUM_CHAINS)
    x, info = run_chains(jax.random.key(6), start, 0.8, COV_C, logdensity_fn=logdensity_c, kernel="nuts")
    x = np.asarray(x)
    check_expectations(x, np.zeros(3))
    i, j = np.triu_indices(3)
    check_expectations(x[..., i] * x[..., j], COV_C[i, j])
    # With M^-1 equal to the covariance the target looks isotropic: short trees, no divergences.
    assert not np.any(info.is_divergent)
    assert float(np.mean(info.tree_depth)) < 3.5
    check_trajectory_counts(info)


def test_nuts_banana():
    start = draw_banana(jax.random.key(7), NUM_CHAINS)
    x, info = run_chains(
        jax.random.key(8), start, 0.2, np.array([1.0, 0.75]), logdensity_fn=logdensity_banana, kernel="nuts"
    )
    x = np.asarray(x)
    x1, x2 = x[..., 0], x[..., 1]
    # E[x1] = E[x2] = 0, E[x1^2] = 1, E[x2^2] = Var(x1^2) / 4 + 0.25 = 0.75,
    # E[x1^2 x2] = (E[x1^4] - E[x1^2]) / 2 = 1.
    check_expectations(np.stack([x1, x2, x1**2, x2**2, x1**2 * x2], -1), [0.0, 0.0, 1.0, 0.75, 1.0])
    assert not np.any(info.is_divergent)
    assert float(np.mean(info.tree_depth)) > 2  # long, curved trajectories
    check_trajectory_counts(info)


def test_hmc_gaussian_exact_moments():
    start = jax.random.normal(jax.random.key(9), (NUM_CHAINS, 10)) * SCALES_B
    x, info = run_chains(
        jax.random.key(10),
        start,
        0.3,
        SCALES_B**2,
        logdensity_fn=logdensity_b,
        kernel="hmc",
        num_integration_steps=5,
    )
    z = np.asarray(x) / SCALES_B
    check_expectations(z, np.zeros(10))
    check_expectations(z**2, np.ones(10))
    assert isinstance(info, HMCInfo)
    assert np.all(np.asarray(info.num_integration_steps) == 5)
    rate = np.asarray(info.acceptance_rate)
    assert np.all((rate >= 0) & (rate <= 1)) and 0.8 < rate.mean() < 1.0
    # A rejected transition keeps the position; an accepted one (almost surely) moves it.
    moved = np.any(np.diff(np.asarray(x), axis=1) != 0, axis=-1)
    np.testing.assert_array_equal(moved, np.asarray(info.is_accepted)[:, 1:])
    assert not np.any(info.is_divergent)


def standard_normal(x):
    return -0.5 * jnp.sum(x**2)


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_hmc_jitter_breaks_a_resonant_trajectory(jitter):
    # On a standard normal, a leapfrog step h turns (x, p) by the angle theta with cos(theta) =
    # 1 - h^2 / 2. With h = 2 sin(pi / 62) 31 steps turn it by exactly pi: x -> -x whatever the
    # momentum, so a fixed length keeps every |x_i| where it started; jittering the length mixes.
    start = jnp.full((NUM_CHAINS, 10), 0.1)
    x, info = run_chains(
        jax.random.key(13),
        start,
        2 * np.sin(np.pi / 62),
        jnp.ones(10),
        logdensity_fn=standard_normal,
        kernel="hmc",
        num_integration_steps=31,
        jitter=jitter,
    )
    steps = np.asarray(info.num_integration_steps)
    if jitter == 0.0:
        assert np.all(steps == 31)
        np.testing.assert_allclose(np.abs(np.asarray(x)), 0.1, rtol=1e-9)  # stuck; E[x^2] is 1
    else:
        assert steps.min() == 31 - 6 and steps.max() == 31 + 6  # floor(0.2 * 31) = 6
        assert abs(steps.mean() - 31) < 0.3
        counts = np.bincount(steps.ravel() - 25, minlength=13)  # each of the 13 lengths alike
        assert stats.chisquare(counts).pvalue > 1e-3
        check_expectations(np.asarray(x) ** 2, np.ones(10))


def test_hmc_divergence_is_flagged_and_rejected():
    start = jax.random.normal(jax.random.key(11), (NUM_CHAINS, 10)) * SCALES_B
    x, info = run_chains(
        jax.random.key(12),
        start,
        100.0,
        SCALES_B**2,
        logdensity_fn=logdensity_b,
        kernel="hmc",
        num_integration_steps=5,
    )
    assert np.all(info.is_divergent) and not np.any(info.is_accepted)
    np.testing.assert_array_equal(np.asarray(x), np.broadcast_to(np.asarray(start)[:, None], x.shape))


# ----------------------------------------------------------------------------- reference
def _reference_nuts(x0, p0, forward, step_size, imm, max_depth, max_delta_energy=1000.0):
    """Stan's recursive NUTS transition (base_nuts.hpp), in NumPy, on target A.

    Returns what does not depend on the proposal draws: tree depth, leapfrog steps, divergence,
    U-turn, Stan's accept_stat, and the positions of the trajectory the proposal comes from, with
    their energies.
    """

    def velocity(p):
        return imm * p

    def energy(x, p):
        d = x - MEAN_A
        h = 0.5 * d @ PREC_A @ d + 0.5 * p @ velocity(p)
        return np.inf if np.isnan(h) else h

    def step(x, p, eps):
        p = p - 0.5 * eps * PREC_A @ (x - MEAN_A)
        x = x + eps * velocity(p)
        return x, p - 0.5 * eps * PREC_A @ (x - MEAN_A)

    def persist(v_minus, v_plus, rho):
        return v_plus @ rho > 0 and v_minus @ rho > 0

    h0 = energy(x0, p0)
    tally = {"n": 0, "sum_metro_prob": 0.0, "divergent": False}

    def build_tree(z, depth, sign):
        """Returns (valid, z_end, p_beg, p_end, rho, positions)."""
        if depth == 0:
            x, p = step(*z, sign * step_size)
            tally["n"] += 1
            h = energy(x, p)
            tally["divergent"] = h - h0 > max_delta_energy
            tally["sum_metro_prob"] += 1.0 if h0 - h > 0 else math.exp(h0 - h)
            return not tally["divergent"], (x, p), p, p, p.copy(), [(x, h)]
        valid, z, p_beg, p_init_end, rho_init, xs_init = build_tree(z, depth - 1, sign)
        if not valid:
            return False, z, None, None, None, None
        valid, z, p_final_beg, p_end, rho_final, xs_final = build_tree(z, depth - 1, sign)
        if not valid:
            return False, z, None, None, None, None
        rho = rho_init + rho_final
        ok = persist(velocity(p_beg), velocity(p_end), rho)
        ok &= persist(velocity(p_beg), velocity(p_final_beg), rho_init + p_final_beg)
        ok &= persist(velocity(p_init_end), velocity(p_end), rho_final + p_init_end)
        return ok, z, p_beg, p_end, rho, xs_init + xs_final

    z_fwd = z_bck = (x0, p0)
    p_fwd_fwd = p_fwd_bck = p_bck_fwd = p_bck_bck = p0
    rho = p0.copy()
    positions = [(x0, h0)]
    depth, turning = 0, False
    while depth < max_depth:
        if forward[depth]:
            rho_bck, p_bck_fwd = rho, p_fwd_fwd
            valid, z_fwd, p_fwd_bck, p_fwd_fwd, rho_fwd, xs = build_tree(z_fwd, depth, 1)
        else:
            rho_fwd, p_fwd_bck = rho, p_bck_bck
            valid, z_bck, p_bck_fwd, p_bck_bck, rho_bck, xs = build_tree(z_bck, depth, -1)
        if not valid:
            turning = not tally["divergent"]
            break
        depth += 1
        positions += xs
        rho = rho_bck + rho_fwd
        ok = persist(velocity(p_bck_bck), velocity(p_fwd_fwd), rho)
        ok &= persist(velocity(p_bck_bck), velocity(p_fwd_bck), rho_bck + p_fwd_bck)
        ok &= persist(velocity(p_bck_fwd), velocity(p_fwd_fwd), rho_fwd + p_bck_fwd)
        if not ok:
            turning = True
            break
    accept_stat = tally["sum_metro_prob"] / tally["n"]
    xs, hs = zip(*positions, strict=True)
    return depth, tally["n"], tally["divergent"], turning, accept_stat, np.array(xs), h0 - np.array(hs)


def test_nuts_matches_recursive_reference():
    """Same trajectory as Stan's recursion: depth, steps, divergence, U-turn, accept_stat, support,
    and the trajectory's exp(-H)-weighted moments."""
    imm = np.diag(COV_A)
    metric = gaussian_euclidean(imm)
    outcomes = set()
    for step_size in [0.04, 0.1, 0.3, 0.9, 1.6, 2.5]:
        for i in range(6):
            key = jax.random.key(100 + i)
            x0 = np.asarray(draw_gaussian(jax.random.fold_in(key, 1), MEAN_A, COV_A, 1)[0])
            new_state, info = nuts_step_a(key, init_a(x0), step_size)
            # The momentum and directions that `step` draws from its key.
            draws = transition_draws(key, 2, SMALL_DEPTH, jnp.float64, jnp.float64)
            p0 = np.asarray(metric.momentum_from_normal(draws.normal))
            forward = np.asarray(draws.is_forward)
            depth, n, divergent, turning, accept_stat, positions, log_weights = _reference_nuts(
                x0, p0, forward, step_size, imm, SMALL_DEPTH
            )
            assert int(info.tree_depth) == depth
            assert int(info.num_integration_steps) == n
            assert bool(info.is_divergent) == divergent
            assert bool(info.is_turning) == turning
            np.testing.assert_allclose(float(info.acceptance_rate), accept_stat, rtol=1e-9)
            distance = np.min(np.linalg.norm(positions - np.asarray(new_state.position), axis=1))
            assert distance < 1e-8, "the draw is not a state of the trajectory"
            w = np.exp(log_weights - log_weights.max())
            mean = w @ positions / w.sum()
            variance = w @ (positions - mean) ** 2 / w.sum()
            np.testing.assert_allclose(np.asarray(info.trajectory_mean), mean, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(np.asarray(info.trajectory_variance), variance, rtol=1e-7, atol=1e-12)
            if divergent:
                outcomes.add("divergent")
            elif depth == SMALL_DEPTH:
                outcomes.add("max depth")
            else:
                outcomes.add("U-turn inside a subtree" if n > 2**depth - 1 else "U-turn of the whole")
    assert outcomes == {"divergent", "max depth", "U-turn inside a subtree", "U-turn of the whole"}


# ----------------------------------------------------------------------------- invariants
def test_nuts_jit_equals_no_jit():
    state = init_a(np.array([0.5, -1.0]))
    key = jax.random.key(20)
    jitted, info_jit = nuts_step_a(key, state, 0.9)
    with jax.disable_jit():  # every primitive runs eagerly, loops as Python loops
        eager, info_eager = _nuts_step_a(key, state, 0.9)
    assert int(info_jit.num_integration_steps) > 1
    np.testing.assert_allclose(np.asarray(eager.position), np.asarray(jitted.position), rtol=1e-10)
    np.testing.assert_allclose(float(eager.logdensity), float(jitted.logdensity), rtol=1e-10)
    for field in NUTSInfo._fields:
        np.testing.assert_allclose(
            np.asarray(getattr(info_eager, field)), np.asarray(getattr(info_jit, field)), rtol=1e-10
        )


def test_nuts_vmap_equals_loop():
    positions = np.asarray(draw_gaussian(jax.random.key(21), MEAN_A, COV_A, 3))
    states = jax.vmap(init_a)(positions)
    looped = [init_a(p) for p in positions]
    for t in range(3):
        keys = jax.random.split(jax.random.fold_in(jax.random.key(22), t), 3)
        states, infos = nuts_step_a_vmapped(keys, states, 0.5)
        results = [nuts_step_a(k, s, 0.5) for k, s in zip(keys, looped, strict=True)]
        looped = [r[0] for r in results]
        for c, (s, info) in enumerate(results):
            np.testing.assert_allclose(np.asarray(states.position[c]), np.asarray(s.position), rtol=1e-12)
            assert int(infos.tree_depth[c]) == int(info.tree_depth)
            assert int(infos.num_integration_steps[c]) == int(info.num_integration_steps)


def test_nuts_tree_depth_hits_the_cap_with_a_tiny_step():
    state = init_a(MEAN_A + 0.3)
    for i in range(3):
        state, info = nuts_step_a(jax.random.key(30 + i), state, 1e-3)
        assert int(info.tree_depth) == SMALL_DEPTH
        assert int(info.num_integration_steps) == 2**SMALL_DEPTH - 1
        assert not bool(info.is_turning) and not bool(info.is_divergent)
        assert float(info.acceptance_rate) > 0.999


def test_nuts_divergence_with_an_absurd_step():
    x0 = MEAN_A + np.array([0.5, 0.5])
    state = init_a(x0)
    new_state, info = nuts_step_a(jax.random.key(40), state, 100.0)
    assert bool(info.is_divergent) and not bool(info.is_turning)
    # The first step already diverges: nothing is added to the trajectory, the chain stays put.
    assert int(info.tree_depth) == 0 and int(info.num_integration_steps) == 1
    np.testing.assert_array_equal(np.asarray(new_state.position), x0)
    assert float(info.acceptance_rate) < 1e-6
    assert np.isfinite(float(info.energy))


def test_one_gradient_evaluation_per_leapfrog_step():
    """The transition evaluates log density and gradient once, in the loop that adds one leaf.

    Together with the reference test (one loop iteration per leapfrog step) this gives exactly
    num_integration_steps gradient evaluations per transition.
    """

    def logdensity(x):
        return -jnp.sum(jnp.cosh(x))  # cosh and its derivative sinh appear nowhere else

    kernel = nuts(logdensity, 0.3, jnp.ones(2))
    jaxpr = str(jax.make_jaxpr(kernel.step)(jax.random.key(0), kernel.init(jnp.ones(2))))
    assert jaxpr.count("cosh") == 1 and jaxpr.count("sinh") == 1


def test_kernel_types_and_info_fields():
    kernel = nuts(logdensity_a, 0.5, np.diag(COV_A))
    assert isinstance(kernel, Kernel)
    state = kernel.init(MEAN_A + 1.0)
    assert isinstance(state, HMCState)
    assert NUTSInfo._fields == (
        "acceptance_rate",
        "is_divergent",
        "energy",
        "tree_depth",
        "num_integration_steps",
        "is_turning",
        "trajectory_mean",
        "trajectory_variance",
    )
    assert HMCInfo._fields == (
        "acceptance_rate",
        "is_accepted",
        "is_divergent",
        "energy",
        "num_integration_steps",
    )
    np.testing.assert_allclose(np.asarray(state.logdensity_grad), -PREC_A @ np.ones(2), rtol=1e-12)


# ----------------------------------------------------------------------------- metric, integrator
def test_metric_diagonal_and_dense_agree():
    diag = gaussian_euclidean(jnp.array([0.5, 2.0]))
    dense = gaussian_euclidean(jnp.diag(jnp.array([0.5, 2.0])))
    p = jnp.array([1.0, -3.0])
    for m in (diag, dense):
        np.testing.assert_allclose(np.asarray(m.velocity(p)), [0.5, -6.0])
        np.testing.assert_allclose(float(m.kinetic_energy(p)), 0.5 * (0.5 + 18.0))
    key = jax.random.key(60)
    np.testing.assert_allclose(
        np.asarray(diag.sample_momentum(key, jnp.zeros(2))),
        np.asarray(dense.sample_momentum(key, jnp.zeros(2))),
    )


def test_metric_dense_momentum_covariance_is_the_mass_matrix():
    metric = gaussian_euclidean(COV_C)
    keys = jax.random.split(jax.random.key(61), 20000)
    p = np.asarray(jax.vmap(metric.sample_momentum, in_axes=(0, None))(keys, jnp.zeros(3)))
    mass = np.linalg.inv(COV_C)
    np.testing.assert_allclose(np.cov(p.T), mass, atol=0.05 * np.abs(mass).max())
    # E[K(p)] = dim / 2.
    assert abs(np.mean(jax.vmap(metric.kinetic_energy)(p)) - 1.5) < 0.05


def test_metric_is_turning():
    metric = gaussian_euclidean(jnp.ones(2))
    left, right = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    assert not bool(metric.is_turning(left, right, left + right))
    assert bool(metric.is_turning(left, -left, left - left))  # rho = 0: turned
    assert bool(metric.is_turning(left, jnp.array([-2.0, 0.0]), jnp.array([-1.0, 0.0])))
    # The velocities, not the momenta, decide: M^-1 can flip the sign of v . rho.
    dense = gaussian_euclidean(jnp.array([[1.0, -0.9], [-0.9, 1.0]]))
    p = jnp.array([1.0, 1.5])  # v = M^-1 p = (-0.35, 0.6)
    rho = jnp.array([1.0, 0.0])
    assert float(p @ rho) > 0 and bool(dense.is_turning(p, p, rho))


def test_leapfrog_reversible_and_symplectic():
    def logdensity(x):
        return -0.5 * jnp.sum(x**2 / jnp.array([1.0, 4.0]))

    calls = []

    def counted(x):
        calls.append(1)
        return logdensity(x)

    metric = gaussian_euclidean(jnp.array([1.0, 2.0]))
    step = leapfrog(counted, metric.velocity)
    x = jnp.array([1.0, -0.5])
    v, g = jax.value_and_grad(logdensity)(x)
    start = IntegratorState(x, jnp.array([0.3, 0.7]), v, g)
    state = start
    for _ in range(20):
        state = step(state, 0.1)
    assert len(calls) == 20  # one evaluation of (value, gradient) per step
    np.testing.assert_allclose(float(state.logdensity), float(logdensity(state.position)))

    def energy(s):
        return -s.logdensity + metric.kinetic_energy(s.momentum)

    assert abs(float(energy(state) - energy(start))) < 5e-3
    for _ in range(20):
        state = step(state, -0.1)
    np.testing.assert_allclose(np.asarray(state.position), np.asarray(start.position), atol=1e-12)
    np.testing.assert_allclose(np.asarray(state.momentum), np.asarray(start.momentum), atol=1e-12)


def test_leapfrog_uses_the_carried_gradient():
    step = leapfrog(lambda x: -0.5 * jnp.sum(x**2), lambda p: p)
    fake = IntegratorState(jnp.zeros(1), jnp.zeros(1), jnp.zeros(()), jnp.array([2.0]))
    # The first half-step kick comes from the carried gradient (2), not from grad at 0 (which is 0).
    np.testing.assert_allclose(np.asarray(step(fake, 1.0).position), [1.0])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("factory", [lambda *a: nuts(*a), lambda *a: hmc(*a, 10)])
def test_bad_arguments_raise(factory):
    with pytest.raises(ValueError, match="step_size"):
        factory(logdensity_a, -0.1, jnp.ones(2))
    with pytest.raises(ValueError, match="step_size"):
        factory(logdensity_a, jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match="inverse_mass_matrix"):
        factory(logdensity_a, 0.1, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="inverse_mass_matrix"):
        factory(logdensity_a, 0.1, jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        factory(logdensity_a, 0.1, jnp.ones(2)).init(jnp.zeros(3))
    with pytest.raises(TypeError, match="`logdensity_fn` must be callable, got int"):
        factory(3, 0.1, jnp.ones(2))


def test_bad_tree_depth_and_steps_raise():
    with pytest.raises(ValueError, match="max_tree_depth"):
        nuts(logdensity_a, 0.1, jnp.ones(2), max_tree_depth=0)
    with pytest.raises(ValueError, match="max_tree_depth"):
        nuts(logdensity_a, 0.1, jnp.ones(2), max_tree_depth=2.5)
    # Concrete JAX integers and non-integers too (-3 steps never moved and reported acceptance 1;
    # 2.5 was cut to 2).
    for bad in (0, jnp.int32(-3), 2.5, True):
        with pytest.raises(ValueError, match="num_integration_steps must be an integer >= 1"):
            hmc(logdensity_a, 0.1, jnp.ones(2), bad)
    # A dense M^-1 that is not symmetric positive definite gave NaN momenta: stuck or divergent.
    for bad in (jnp.array([[1.0, 2.0], [2.0, 1.0]]), jnp.array([[1.0, 0.5], [0.0, 1.0]])):
        with pytest.raises(ValueError, match="symmetric positive definite"):
            nuts(logdensity_a, 0.1, bad)
    for bad in (1.0, -0.1, "0.2"):
        with pytest.raises(ValueError, match="`jitter` must be a number in \\[0, 1\\)"):
            hmc(logdensity_a, 0.1, jnp.ones(2), 10, jitter=bad)


def test_hand_built_kernel_without_target_records_its_position():
    # No target and no `record`: a flat-vector kernel's draws are its positions, under "position".
    from bayeskit.mcmc import sample

    kernel = hmc(logdensity_a, 0.3, jnp.ones(2), 8)
    post = sample(
        jax.random.key(0), None, kernel, init=jnp.zeros(2), num_chains=2, num_warmup=20,
        num_samples=30, progress_bar=False, warn=False,
    )  # fmt: skip
    assert post["position"].shape == (2, 30, 2) and np.all(np.isfinite(post["position"]))


def test_hand_built_nuts_reports_its_tree_depth_cap():
    """A run of a NUTS kernel object warns when draws reach its max_tree_depth (info had None)."""
    from bayeskit.mcmc import sample

    kernel = nuts(logdensity_a, 0.01, jnp.ones(2), max_tree_depth=2)  # far too small a step
    post = sample(
        jax.random.key(0), None, kernel, init=jnp.zeros(2), num_chains=2, num_warmup=10,
        num_samples=20, progress_bar=False, warn=False,
    )  # fmt: skip
    assert post.info["max_tree_depth"] == 2
    assert any("hit the maximum tree depth (2)" in message for message in post.warnings)


@pytest.mark.parametrize("factory", [lambda *a: nuts(*a), lambda *a: hmc(*a, 5)])
def test_init_at_a_nonfinite_point_raises_naming_the_sites(factory):
    """A hand-built kernel started where the log density or its gradient is NaN stayed there for
    ever, silently (every trajectory NaN, every proposal rejected); init now says so, and for a
    Target's log density names the sites, as sample's failed start does."""
    import bayeskit.dist as dist
    from bayeskit.ppl import target

    def scale_model(m):
        s = m.sample("s", dist.HalfNormal(1.0))
        m.sample("y", dist.Normal(0.0, s), obs=1.0)

    t = target(scale_model)
    kernel = factory(t.logdensity_fn, 0.1, jnp.ones(1))
    with pytest.raises(FloatingPointError, match=r"init.*not finite at site\(s\) \[.*'y'.*\].*target\.init"):
        kernel.init(jnp.array([-1e6]))  # s = exp(-1e6) underflows to 0
    assert np.isfinite(float(kernel.init(jnp.array([0.3])).logdensity))
    # A plain function: no sites to name, the coordinates instead; traced starts are not checked.
    plain = factory(lambda z: jnp.sum(jnp.log(z)), 0.1, jnp.ones(2))
    with pytest.raises(FloatingPointError, match=r"cannot move from \(log density nan"):
        plain.init(jnp.array([-1.0, 1.0]))
    with pytest.raises(FloatingPointError, match=r"gradient not finite in 1 coordinate\(s\): 0"):
        plain.init(jnp.array([0.0, 1.0]))
    assert jax.vmap(plain.init)(jnp.array([[1.0, 2.0]])).logdensity.shape == (1,)


def test_trajectory_moments_stay_finite_where_the_log_density_is_plus_infinity():
    """A leaf with log density +inf has weight +inf: its NaN share is dropped, not spread."""

    def logdensity(x):
        return jnp.where(x[0] > 1.5, jnp.inf, -0.5 * jnp.sum(x**2))

    kernel = nuts(logdensity, 0.9, jnp.ones(2))
    step = jax.jit(kernel.step)
    state = kernel.init(jnp.zeros(2))
    for i in range(100):
        state, info = step(jax.random.key(i), state)
        assert np.all(np.isfinite(info.trajectory_mean)), i
        assert np.all(np.isfinite(info.trajectory_variance)), i
