"""Warmup adaptation: dual averaging of the step size, Welford mass-matrix estimates, and Stan's
windowed schedule.

References:
    Hoffman & Gelman (2014), "The No-U-Turn Sampler", section 3.2 (dual averaging, after
    Nesterov 2009). Stan Reference Manual, "HMC algorithm parameters: automatic parameter tuning"
    (the windowed warmup and the regularised variance estimate). Pooling the chains' window
    estimates into one metric is cross-chain warmup (TensorFlow Probability's windowed adaptive
    samplers pool chains by a mean); here the pool is a mean guarded by the median. The starting
    metric's estimator, sqrt(Var[z] / Var[grad log p]) per coordinate, is the one nutpie's mass matrix
    adaptation is built on (draws and their gradients; see nutpie's documentation).

Rao-Blackwellised windows: a NUTS transition chooses its draw from the trajectory's states with
probabilities proportional to exp(-H) (up to the bias toward later subtrees, which does not change
what the states' weighted average estimates). So the exp(-H)-weighted mean and variance of all the
trajectory's positions estimate the posterior's moments with less noise than the one draw does,
and :func:`bayeskit.mcmc.sample` feeds those (``welford_update(state, mean, spread)``) to the
diagonal estimate. On the 100-d Gaussian of ``benchmarks/mcmc_peers.py`` (condition number 1e4)
the final metric's relative error per coordinate fell from 6.6% to 5.3% (seed 0; the smallest
scaled standard deviation, which bounds the step size, from 0.91 to 0.93). Minimum bulk ESS per
gradient, mean over seeds 0-4 (the draw's moments -> the trajectory's): eight schools 0.0851 ->
0.0906, logistic regression 0.2306 -> 0.2300, hierarchical regression 0.0284 -> 0.0288, the
Gaussian 0.1741 -> 0.1786 (2026-11-30). Cost: about 0.05 s more compile, two vector updates per
leapfrog step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "DualAveragingState",
    "WelfordState",
    "default_term_buffer",
    "dual_averaging_init",
    "dual_averaging_step_size",
    "dual_averaging_update",
    "initial_inverse_mass",
    "pool_inverse_mass",
    "step_size_correction",
    "warmup_schedule",
    "welford_covariance",
    "welford_init",
    "welford_update",
]


class DualAveragingState(NamedTuple):
    """Dual averaging of log step size: the iterate, its running average, and the statistics."""

    log_step_size: jax.Array
    log_step_size_avg: jax.Array
    h_bar: jax.Array  # running average of (target - acceptance)
    mu: jax.Array  # the point iterates shrink toward: log(10 * initial step size)
    count: jax.Array
    # With the averaged iterate's weights, the means over the transitions so far of u, u^2, u^3,
    # u^4, a, u a, u^2 a (u: the log step size tried, less mu - log 10; a: its acceptance
    # statistic), which the quadratic fit of dual_averaging_step_size needs.
    acceptance_moments: jax.Array
    # The last TRANSITIONS_KEPT transitions' [u, leapfrog steps, divergent] (rows of zeros before
    # there are as many), from which dual_averaging_step_size reads the steps per transition near a
    # step size, and whether a transition diverged at a step size up to the fitted one.
    transitions: jax.Array


# How many of the latest transitions dual averaging keeps (more than the default terminal buffer
# of 1,000 warmup iterations, 150).
TRANSITIONS_KEPT = 256


def dual_averaging_init(step_size) -> DualAveragingState:
    """Start dual averaging at ``step_size`` (shrinking toward ten times it, as Stan does)."""
    log_eps = jnp.log(jnp.asarray(step_size, dtype=jnp.result_type(float)))
    zero = jnp.zeros_like(log_eps)
    count = jnp.zeros((), jnp.int32)
    moments = jnp.zeros(log_eps.shape + (7,), log_eps.dtype)
    transitions = jnp.zeros(log_eps.shape + (TRANSITIONS_KEPT, 3), log_eps.dtype)
    return DualAveragingState(log_eps, zero, zero, jnp.log(10.0) + log_eps, count, moments, transitions)


def dual_averaging_update(
    state: DualAveragingState,
    acceptance_rate,
    target_accept: float = 0.8,
    gamma: float = 0.05,
    t0: float = 10.0,
    kappa: float = 0.75,
    num_steps=None,
    divergent=None,
) -> DualAveragingState:
    r"""One dual-averaging step toward ``target_accept``.

    ``num_steps`` and ``divergent`` (optional): the leapfrog steps the transition took and
    whether it diverged, which :func:`dual_averaging_step_size` reads with
    ``keep_trajectory_length=True`` from ``transitions`` (both left out: they are not recorded, and
    nothing is compiled for them).

    .. math::
        \bar H_t = (1 - \tfrac{1}{t + t_0}) \bar H_{t-1} + \tfrac{\delta - \alpha_t}{t + t_0},\quad
        \log\epsilon_t = \mu - \tfrac{\sqrt t}{\gamma} \bar H_t,\quad
        \log\bar\epsilon_t = t^{-\kappa} \log\epsilon_t + (1 - t^{-\kappa}) \log\bar\epsilon_{t-1}
    """
    t = (state.count + 1).astype(state.h_bar.dtype)
    # A NaN acceptance (e.g. an infinite energy) counts as a rejection.
    alpha = jnp.where(jnp.isfinite(acceptance_rate), acceptance_rate, 0.0)
    w = 1.0 / (t + t0)
    h_bar = (1.0 - w) * state.h_bar + w * (target_accept - alpha)
    log_eps = state.mu - jnp.sqrt(t) / gamma * h_bar
    eta = t ** (-kappa)
    log_eps_avg = eta * log_eps + (1.0 - eta) * state.log_step_size_avg
    # The weighted moments for a quadratic regression of acceptance on log step size.
    u = state.log_step_size - (state.mu - jnp.log(10.0))
    values = jnp.stack([u, u**2, u**3, u**4, alpha, u * alpha, u**2 * alpha], axis=-1)
    moments = state.acceptance_moments + eta[..., None] * (values - state.acceptance_moments)
    transitions = state.transitions
    if num_steps is not None or divergent is not None:
        n = jnp.ones_like(u) if num_steps is None else jnp.asarray(num_steps, u.dtype)
        bad = jnp.zeros_like(u) if divergent is None else jnp.asarray(divergent, u.dtype)
        row = jnp.stack([u, n, bad], -1)
        transitions = jax.lax.dynamic_update_index_in_dim(
            transitions, row, state.count % transitions.shape[-2], transitions.ndim - 2
        )
    return DualAveragingState(log_eps, log_eps_avg, h_bar, state.mu, state.count + 1, moments, transitions)


def dual_averaging_step_size(
    state: DualAveragingState,
    target_accept: float = 0.8,
    max_correction: float = 0.25,
    keep_trajectory_length: bool = False,
    bandwidth: float = 0.05,
) -> jax.Array:
    r"""The step size to sample with: where a quadratic fit of acceptance on log step size reaches the target.

    Stan samples with the averaged iterate :math:`\bar\epsilon`. Dual averaging makes the mean
    acceptance *over its noisy iterates* equal ``target_accept``; with acceptance concave in
    :math:`\log\epsilon` there (the leapfrog's shortfall :math:`1 - \alpha` grows about as
    :math:`\epsilon^2`), the acceptance *at their average* is higher (Jensen's inequality): the
    draws of Stan's warmup accept 0.83-0.86 for a target of 0.8. Here the pairs (log step size
    tried, acceptance statistic), with the averaged iterate's weights :math:`t^{-\kappa}`, are fitted
    by least squares with :math:`\alpha \approx c_0 + c_1 u + c_2 u^2`, and the step size is the
    root of :math:`\alpha(u) = \delta` on the falling side, nearest the averaged iterate. Where
    the fit has no such root within two standard deviations of the steps tried (acceptance that
    does not fall with the step size, or too few pairs), the averaged iterate is kept; a root
    further than ``max_correction`` from :math:`\log\bar\epsilon` is held to that bound.

    ``keep_trajectory_length=True`` takes the fitted root only where it lengthens the
    trajectories: NUTS's steps per transition near a step size are read from the transitions
    dual averaging has seen (a Gaussian kernel of width ``bandwidth`` in log step size over
    ``transitions``), and the root is kept only where it is larger than the averaged iterate,
    where step size x mean steps (the trajectory's length in simulated time) is no smaller there
    than at the averaged iterate, where at least ``MIN_SUPPORT`` transitions
    (kernel-weighted) lie near each, and where no transition diverged at a step size up to
    ``DIVERGENCE_MARGIN`` (0.25 in log) above the root; otherwise the averaged iterate is kept.
    A larger step often keeps the number of leapfrog steps (on the 100-d Gaussian of
    ``benchmarks/mcmc_peers.py`` every transition takes 7 at either), so its trajectories are
    longer for the same gradients; but on the hierarchical regression there the trajectories fall
    from 14.4 to 11.4 steps, between two tree depths, and lose a third of their ESS per draw. From
    the terminal buffer (150 transitions per chain) the steps per transition at both step sizes
    are read to within about one step of those the draws then take.

    :func:`~bayeskit.mcmc.sample` uses the root with ``final_step_size="fitted"`` and, with the
    checks above, by default (``"auto"``, for NUTS), through :func:`step_size_correction` on the
    host at the end of warmup. Measured on the models of
    ``benchmarks/mcmc_peers.py`` (4 chains x (1,000 + 1,000); averaged iterate -> fitted root): the
    draws' mean acceptance (8 seeds) became 0.80 on eight schools and on the 100-d Gaussian, and
    0.815 on the hierarchical and logistic regressions; the minimum bulk ESS per gradient
    (``benchmarks/ess_per_gradient.py``, seeds 0-4) went 0.0842 -> 0.0902 on eight schools, 0.2369
    -> 0.2393 on logistic regression, 0.1784 -> 0.2098 on the Gaussian (nutpie: 0.2128), and 0.0292
    -> 0.0240 on the hierarchical model, whose trajectories at acceptance 0.80 are between 7 and 15
    steps (see :func:`default_term_buffer`; nutpie: 0.0244, NumPyro 0.0258). With
    ``keep_trajectory_length=True`` (seeds 0-4): 0.0864, 0.2393, 0.2098 and 0.0287.
    """
    correction = step_size_correction(state, target_accept, max_correction, keep_trajectory_length, bandwidth)
    return jnp.exp(state.log_step_size_avg + correction)


def step_size_correction(
    state: DualAveragingState,
    target_accept: float = 0.8,
    max_correction: float = 0.25,
    keep_trajectory_length: bool = False,
    bandwidth: float = 0.05,
):
    """The log of :func:`dual_averaging_step_size` over the averaged iterate (0 where it is kept).

    The state's arrays may be NumPy's as well as JAX's: :func:`~bayeskit.mcmc.sample` applies it on
    the host at the end of warmup, where it costs no compiling.
    """
    xp = np if isinstance(state.acceptance_moments, np.ndarray) else jnp
    m = state.acceptance_moments
    with np.errstate(divide="ignore", invalid="ignore"):  # no fit: inf or NaN, caught below
        c0, c1, c2 = _solve_hankel3(
            m[..., 0], m[..., 1], m[..., 2], m[..., 3], m[..., 4], m[..., 5], m[..., 6]
        )
        # The root of c2 u^2 + c1 u + (c0 - target) nearest u = 0, stable as c2 -> 0.
        disc = c1**2 - 4.0 * c2 * (c0 - target_accept)
        root = 2.0 * (target_accept - c0) / (c1 - xp.sqrt(xp.maximum(disc, 0.0)))
    u_avg = state.log_step_size_avg - (state.mu - np.log(10.0))
    correction = root - u_avg
    # Interpolation only: the root must lie within two standard deviations of the steps tried.
    spread = xp.sqrt(xp.maximum(m[..., 1] - m[..., 0] ** 2, 0.0))
    usable = (disc >= 0) & (c1 + 2.0 * c2 * root < 0) & (xp.abs(root - m[..., 0]) <= 2.0 * spread)
    usable = usable & xp.isfinite(correction) & (state.count > 0)
    correction = xp.where(usable, xp.clip(correction, -max_correction, max_correction), 0.0)
    if keep_trajectory_length:
        u, steps, divergent = (state.transitions[..., k] for k in range(3))
        recorded = steps > 0  # rows not yet written hold zeros
        steps_avg, support_avg = _steps_near(xp, u, steps, recorded, u_avg, bandwidth)
        steps_fit, support_fit = _steps_near(xp, u, steps, recorded, u_avg + correction, bandwidth)
        no_shorter = xp.exp(correction) * steps_fit >= steps_avg
        keep = (correction > 0) & no_shorter & (support_avg >= MIN_SUPPORT) & (support_fit >= MIN_SUPPORT)
        # A divergence at a step size up to DIVERGENCE_MARGIN above the fitted one: keep the smaller.
        near = recorded & (divergent > 0) & (u <= (u_avg + correction + DIVERGENCE_MARGIN)[..., None])
        keep = keep & ~xp.any(near, -1)
        correction = xp.where(keep, correction, 0.0)
    return correction


def _solve_hankel3(a, b, c, d, r0, r1, r2):
    """Solve [[1, a, b], [a, b, c], [b, c, d]] x = r (the normal equations of a quadratic fit) in
    closed form, for NumPy and JAX arrays alike."""
    # Cofactors of the symmetric matrix; det = 1 * C00 + a * C01 + b * C02.
    c00, c01, c02 = b * d - c * c, b * c - a * d, a * c - b * b
    c11, c12, c22 = d - b * b, a * b - c, b - a * a
    det = c00 + a * c01 + b * c02
    return (
        (c00 * r0 + c01 * r1 + c02 * r2) / det,
        (c01 * r0 + c11 * r1 + c12 * r2) / det,
        (c02 * r0 + c12 * r1 + c22 * r2) / det,
    )


# How far above the fitted log step size a divergence in the terminal buffer still vetoes it.
DIVERGENCE_MARGIN = 0.25
# The least kernel-weighted number of transitions near a step size to read its steps from.
MIN_SUPPORT = 5.0


def _steps_near(xp, u, steps, recorded, u0, bandwidth):
    """Mean leapfrog steps per transition near log step size ``u0`` (Gaussian kernel weights), and
    the kernel-weighted number of transitions it rests on."""
    weights = xp.where(recorded, xp.exp(-0.5 * ((u - u0[..., None]) / bandwidth) ** 2), 0.0)
    support = xp.sum(weights, -1)
    return xp.sum(weights * steps, -1) / xp.maximum(support, 1e-30), support


class WelfordState(NamedTuple):
    """Running mean and sum of squared deviations (vector for diagonal, matrix for dense)."""

    count: jax.Array
    mean: jax.Array
    m2: jax.Array


def welford_init(dim: int, dense: bool, dtype=None) -> WelfordState:
    dtype = dtype or jnp.result_type(float)
    m2 = jnp.zeros((dim, dim) if dense else (dim,), dtype)
    return WelfordState(jnp.zeros((), dtype), jnp.zeros((dim,), dtype), m2)


def welford_update(state: WelfordState, x: jax.Array, spread: jax.Array | None = None) -> WelfordState:
    """Add one draw ``x`` (Welford 1962: numerically stable running moments).

    ``spread`` (diagonal only): ``x`` is the mean of a weighted group of points and ``spread``
    their variance about it, which then counts toward the estimate as well.
    """
    if spread is not None and state.m2.ndim == 2:
        raise ValueError(
            "welford_update: `spread` (a group's variance) is for a diagonal estimate; this state is "
            "dense (welford_init(dim, dense=True)). Add the group's points one by one instead."
        )
    count = state.count + 1
    delta = x - state.mean
    mean = state.mean + delta / count
    if state.m2.ndim == 2:
        m2 = state.m2 + jnp.outer(x - mean, delta)
    else:
        m2 = state.m2 + (x - mean) * delta
        if spread is not None:
            m2 = m2 + spread
    return WelfordState(count, mean, m2)


def welford_covariance(state: WelfordState) -> jax.Array:
    """Stan's regularised estimate: shrink the sample (co)variance toward 1e-3 times identity.

    ``n/(n+5) * S + 1e-3 * 5/(n+5) * I``, which keeps the estimate well conditioned when the
    window is short.
    """
    n = state.count
    cov = state.m2 / jnp.maximum(n - 1.0, 1.0)
    shrink = 1e-3 * 5.0 / (n + 5.0)
    if cov.ndim == 2:
        return (n / (n + 5.0)) * cov + shrink * jnp.eye(cov.shape[0], dtype=cov.dtype)
    return (n / (n + 5.0)) * cov + shrink


def warmup_schedule(
    num_warmup: int, init_buffer: int = 75, term_buffer: int = 50, base_window: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """Stan's windowed warmup: a fast initial buffer, doubling slow windows, a fast final buffer.

    Returns two boolean arrays over warmup iterations: ``is_slow`` (the mass matrix estimate
    collects this draw) and ``is_window_end`` (update the mass matrix and restart step-size
    adaptation after this draw). If ``num_warmup`` is too short for the defaults, the buffers
    become 15% and 10% of warmup and the single window the 75% between, as in Stan.
    """
    is_slow = np.zeros(num_warmup, dtype=bool)
    is_end = np.zeros(num_warmup, dtype=bool)
    if num_warmup < 20:  # too short to estimate a mass matrix: step size only
        return is_slow, is_end
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.1 * num_warmup)
        base_window = num_warmup - init_buffer - term_buffer
    end_slow = num_warmup - term_buffer
    start, size = init_buffer, base_window
    while start < end_slow:
        stop = start + size
        # If the next doubled window would not fit, stretch this one to the end of the slow phase.
        if stop + 2 * size > end_slow:
            stop = end_slow
        is_slow[start:stop] = True
        is_end[stop - 1] = True
        start, size = stop, 2 * size
    return is_slow, is_end


def default_term_buffer(num_warmup: int) -> int:
    """The terminal buffer's default length: 15% of warmup, and never less than Stan's 50.

    The final step size is a dual-averaging estimate over the terminal buffer. Stan's 50
    iterations leave it noisy from chain to chain and below the size that reaches
    ``target_accept``. 15% is the length of nutpie's final step-size window.

    Measured with 4 chains and 1,000 warmup iterations, 150 instead of 50 changed the minimum
    bulk ESS per gradient as follows.

    - The models of ``benchmarks/mcmc_peers.py``:
      eight schools +22% (mean over five seeds), 100-d Gaussian +19% (one seed), logistic
      regression +8% (two seeds), hierarchical regression none (five seeds).
    - Eight posteriordb posteriors, four seeds each: +3% to +24% on every one.

    The price is a few more divergences where the geometry is hard, because the steps are
    larger: ``gp_pois_regr`` had 40-51 per 4,000 draws instead of 2-26, and eight schools had
    about one per run. The same 31 of 32 runs pass the posteriordb criteria either way.

    Even so the averaged iterate lands below the step size that reaches ``target_accept``: it sits
    on the concave side of the acceptance curve. On the 100-d Gaussian the draws' mean acceptance
    was 0.83 for a target of 0.8 (nutpie's: 0.80), and that whole gap explained nutpie's better ESS
    per gradient there (0.164 vs 0.213; with ``target_accept=0.76`` bayeskit reached 0.80 and
    0.211). ``sample(..., final_step_size="fitted")`` samples with the root of a quadratic fit of
    acceptance against log step size over the terminal buffer (:func:`dual_averaging_step_size`),
    which reaches 0.80 there; by itself it is not the default (see below: the hierarchical model's
    ESS per draw falls by a third, and with it its ESS per second, which compiling dominates;
    divergences on eight schools rise from 1-2 to 4-7 per run). The default, ``"auto"``, takes it
    only where the terminal buffer shows trajectories no shorter at it and no divergence near it. Tried before it and not adopted (ESS per gradient
    on the Gaussian / eight schools / hierarchical / logistic, Stan's averaged iterate then: 0.164 /
    0.084 / 0.028 / 0.240): sampling with the averaged step size through the terminal buffer (eight
    schools 0.073, 65 divergences at one seed of five); a less noisy acceptance statistic for
    adaptation, 2 / (1 + exp|dH|) per leaf as nutpie's late phase (0.186 / 0.085 / 0.025 / 0.245);
    no restart of dual averaging at the last window end, as nutpie (0.187 / 0.083 / 0.025 / 0.249);
    both (0.195 / 0.080 / 0.025 / 0.251); a +-10% step size jitter (0.170 / 0.074 / 0.028 / 0.240);
    and a second-order (Jensen) correction of the averaged iterate, from the iterates' variance or
    from the covariance of step size and acceptance under a power-law acceptance curve, which
    overshot on eight schools (acceptance 0.76-0.77, 8-11 divergences per run). Nor was nutpie's
    window estimate, sqrt(Var[z] / Var[grad log p]) per coordinate from each slow window's draws and
    gradients (with Stan's shrinkage), which is exact for a Gaussian: 0.185 / 0.083 / 0.021 / 0.233
    (five seeds, 2026-11-29): on the Gaussian every draw took 7 leapfrog steps with either metric,
    so the metric's noise was not what held it back, and the hierarchical model lost a quarter of
    its ESS per gradient.

    Why the two models pull apart (2026-11-30, with the trajectory-moment metric): the adapted step
    size, then fixed and scaled by 0.9 / 1.0 / 1.1 / 1.2 for 4 x 1,000 draws (three seeds), gives on
    the Gaussian acceptance 0.86 / 0.83 / 0.79 / 0.75 and ESS per gradient 0.128 / 0.173 / 0.213 /
    0.268 (7 leapfrog steps at every size, so a longer step is a longer trajectory for free), and on
    the hierarchical model acceptance 0.88 / 0.84 / 0.81 / 0.77 and 0.0275 / 0.0279 / 0.0243 /
    0.0313, with 14.9 / 13.9 / 10.4 / 7.6 steps per draw: the step that reaches 0.80 there puts
    trajectories between 7 and 15 steps, the worst of both. Both land 0.03-0.05 above the target
    acceptance with the averaged iterate, as Stan's warmup does; with the fitted step size
    (:func:`dual_averaging_step_size`) the Gaussian gains 17% and the hierarchical model loses 14%
    (0.0279 -> 0.0240, near nutpie's 0.0244), and 31% of its ESS per draw (0.40 -> 0.28; 8 seeds).
    In ``benchmarks/mcmc_peers.py`` (median of five fresh-process runs, 2026-11-30, commit b3ebfe2)
    the fitted step put the hierarchical model at 1.71x the best peer's ESS per second, below the
    goal of 2x, and the Gaussian at 2.59x.
    """
    return max(50, round(0.15 * num_warmup))


def initial_inverse_mass(positions, gradients, usable, min_points: int = 8) -> jax.Array:
    r"""A diagonal inverse mass matrix to start warmup with, from scattered points and their gradients.

    .. math::
        M^{-1}_{ii} = \sqrt{\operatorname{Var}[z_i] \,/\, \operatorname{Var}[\partial_i \log p(z)]}

    over the usable points. For a Gaussian with standard deviations :math:`s_i` (any mean) the
    gradient is :math:`-(z_i - m_i)/s_i^2`, so the ratio is :math:`s_i^2`: the posterior variance
    that Stan's windows would otherwise estimate only after the unit metric's first 100 iterations,
    which on a badly scaled posterior need tiny steps and deep trees (on the 100-d Gaussian of
    ``benchmarks/mcmc_peers.py``, 115,000 gradient evaluations, 3.6 times what its 4,000 draws
    take). :func:`~bayeskit.mcmc.sample` estimates it for each chain from the 20 starting
    candidates it evaluates anyway (uniform(-2, 2) on the unconstrained scale). A coordinate
    whose variances are zero or not finite, or every coordinate when fewer than ``min_points``
    points are usable (a given ``init``), keeps the unit metric.

    Args:
        positions, gradients: ``[num_points, dim]`` points and the log density's gradients there.
        usable: ``[num_points]`` booleans, the points whose log density and gradient are finite.
        min_points: the fewest usable points to estimate from.

    Returns:
        The diagonal, shape ``(dim,)``.
    """
    dim = positions.shape[-1]
    z = positions.reshape(-1, dim)
    g = gradients.reshape(-1, dim)
    w = usable.reshape(-1, 1).astype(z.dtype)
    n = jnp.sum(w)

    def variance(x):
        x = jnp.where(w > 0, x, 0.0)
        mean = jnp.sum(w * x, axis=0) / n
        return jnp.sum(w * (x - mean) ** 2, axis=0) / (n - 1.0)

    estimate = jnp.sqrt(variance(z) / variance(g))
    ok = jnp.isfinite(estimate) & (estimate > 0) & (n >= min_points)
    return jnp.where(ok, estimate, 1.0)


def pool_inverse_mass(inverse_mass_matrices, outlier_factor: float = 2.0) -> np.ndarray:
    r"""One inverse mass matrix for every chain, from the chains' own window estimates.

    Diagonal estimates ``[num_chains, dim]`` pool, per coordinate, to the mean of the chains
    whose variance is within ``outlier_factor`` of the chains' median (with fewer than three
    chains, to the median itself); dense ones ``[num_chains, dim, dim]`` to the medoid chain's
    matrix: the one whose log variances (its diagonal) are closest, in summed absolute
    difference, to the other chains' (a median of matrices that stays positive definite).

    Why the median guard: a chain whose window visited a region of negligible posterior mass (a
    minor mode, a funnel's neck) estimates variances far off the others'. On its own metric it
    takes step sizes tuned for that region and, on posteriordb's ``bball_drive_event_0`` hidden
    Markov model, went back there during sampling and stayed: R-hat 1.11-1.15 and hundreds of
    divergences in 2 of 4 seeds. A plain mean would pass the outlier's variance to every chain;
    the guard leaves it out.

    Why a mean of the rest rather than the median: each chain's variance is an unbiased
    estimate from its own window, so the mean of four has half the standard deviation of one,
    less than the median of four (the mean of the middle two) has. On the 100-d Gaussian of
    ``benchmarks/mcmc_peers.py`` the pooled metric's error then shrinks, and with it the energy
    error of the worst-scaled coordinates that limits the step size.

    The chains stay independent samplers: only warmup's metric is shared, at each window end,
    and each chain adapts its own step size to it. At least one chain always passes the guard
    when ``outlier_factor >= 2`` (the larger of the middle two is within a factor 2 of their
    mean).

    Args:
        inverse_mass_matrices: the chains' estimates (NumPy or JAX), chains first.
        outlier_factor: how far (a ratio, either way) a chain's variance may be from the median
            and still count toward the mean; at least 2.

    Returns:
        The pooled estimate broadcast to the input's shape, as NumPy.
    """
    if not outlier_factor >= 2.0:
        raise ValueError(f"pool_inverse_mass: `outlier_factor` must be at least 2, got {outlier_factor}.")
    imm = np.asarray(inverse_mass_matrices)
    if imm.ndim == 2:
        pooled = np.median(imm, axis=0)
        if imm.shape[0] >= 3:
            with np.errstate(divide="ignore", invalid="ignore"):
                inlier = np.abs(np.log(imm / pooled)) <= np.log(outlier_factor)
                mean = np.sum(np.where(inlier, imm, 0.0), axis=0) / np.sum(inlier, axis=0)
            pooled = np.where(np.any(inlier, axis=0), mean, pooled)  # a NaN estimate keeps the median
    else:
        log_var = np.log(np.clip(np.diagonal(imm, axis1=-2, axis2=-1), np.finfo(imm.dtype).tiny, None))
        distance = np.abs(log_var[:, None, :] - log_var[None, :, :]).sum(axis=(1, 2))
        pooled = imm[int(np.argmin(distance))]
    return np.ascontiguousarray(np.broadcast_to(pooled, imm.shape))
