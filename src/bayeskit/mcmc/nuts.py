"""The No-U-Turn sampler: multinomial trajectory sampling and the generalised U-turn criterion.

Each transition draws a momentum and grows a trajectory by doubling, each time in a random
direction, until the trajectory (or one of its subtrees) turns back on itself, the integrator
diverges, or ``max_tree_depth`` doublings are done. The returned point is drawn from all states of
the trajectory with probability proportional to exp(-H): uniformly-progressively within each new
subtree, and biased towards the new subtree when it is merged with the old trajectory, as Stan does.

The trajectory is built iteratively, so the whole transition is one compiled loop that ``jax.jit``
and ``jax.vmap`` transform, with no recursion. Leaves of a new subtree are numbered n = 0, 1, ...;
after leaf n the subtrees of 2, 4, ..., 2^t leaves that end at n are complete, t the number of
trailing one bits of n, and each is the merge of two halves: the previous one (ending at n) and
its left sibling. The left siblings live on a stack of ``max_tree_depth`` rows, row k holding the
last completed subtree of 2^k leaves (its end momenta and momentum sum), which is exactly a binary
counter: leaf n merges rows 0..t-1, one U-turn check per merge, then writes the merged subtree to
row t. That is one gradient evaluation and fewer than two merges per leapfrog step on average.

A transition's random numbers come from one ``jax.random.bits`` call on its key (the momentum,
a uniform per possible merge, a bit per doubling for its direction, and a 64-bit seed), and the
uniform of leaf n of the subtree at depth d from the Threefry-2x32 hash of the counter (d, n)
keyed by that seed (:mod:`bayeskit._threefry`): the same generator as ``jax.random``'s, written
so that XLA compiles it as straight-line code inside the kernel that uses it, rather than as a
loop per call (eight calls a transition took 45% of the step's compile time).

References:
    Hoffman, M. D. and Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15, 1593-1623.
    Betancourt, M. (2017). A Conceptual Introduction to Hamiltonian Monte Carlo.
        arXiv:1701.02434, appendix A (multinomial sampling, the generalised criterion).
    Stan Development Team. Stan Reference Manual, "Hamiltonian Monte Carlo" (the extra U-turn
        checks across the boundary of merged subtrees, Stan 2.26).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit import _threefry as random
from bayeskit._key import check_key
from bayeskit.mcmc._kernel import HMCState, Kernel, check_step_size, gradient_state
from bayeskit.mcmc.integrators import IntegratorState, leapfrog
from bayeskit.mcmc.metrics import gaussian_euclidean, is_turning_velocities

__all__ = ["NUTSInfo", "nuts"]

_MAX_TREE_DEPTH_LIMIT = 30  # 2^30 leaves per subtree still counts in int32


class NUTSInfo(NamedTuple):
    """What one NUTS transition reports.

    Attributes:
        acceptance_rate: the mean over all leapfrog steps of min(1, exp(H_0 - H)) (Stan's
            ``accept_stat``), the statistic step-size adaptation targets.
        is_divergent: the energy error exceeded ``max_delta_energy`` (or was NaN).
        energy: the total energy -log pi(q) + K(p) of the returned point with its momentum.
        tree_depth: completed doublings. The trajectory used holds 2^tree_depth states.
        num_integration_steps: leapfrog steps taken, which equals gradient evaluations. It is
            2^tree_depth - 1 when the trajectory stopped at a completed doubling (U-turn of the
            whole trajectory, or ``max_tree_depth``), and between 2^tree_depth and
            2^(tree_depth+1) - 1 when a subtree was abandoned part-way (a divergence or a U-turn
            inside it).
        is_turning: the trajectory stopped because of a U-turn (of the whole trajectory or of a
            subtree).
        trajectory_mean, trajectory_variance: ``[dim]``, the mean and variance of the positions
            of the trajectory's states weighted by exp(-H), the distribution the returned
            point is drawn from under uniform multinomial sampling. From a chain in equilibrium
            they are unbiased (Rao-Blackwellised) estimates of the posterior's mean and of its
            variance less the variance of that mean, over many states instead of one; warmup
            estimates the metric from them.
    """

    acceptance_rate: jax.Array
    is_divergent: jax.Array
    energy: jax.Array
    tree_depth: jax.Array
    num_integration_steps: jax.Array
    is_turning: jax.Array
    trajectory_mean: jax.Array
    trajectory_variance: jax.Array


class _Span(NamedTuple):
    """A stretch of trajectory: its end momenta and velocities, in integration order, and rho."""

    momentum_start: jax.Array
    velocity_start: jax.Array
    momentum_end: jax.Array
    velocity_end: jax.Array
    momentum_sum: jax.Array


class _Proposal(NamedTuple):
    position: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array
    energy: jax.Array


class _Moments(NamedTuple):
    """Weighted mean and variance of positions, the weights summing to exp(log_sum_weight)."""

    mean: jax.Array
    variance: jax.Array


def _merge_moments(old: _Moments, new: _Moments, fraction_new) -> _Moments:
    """The moments of two weighted groups, the second with ``fraction_new`` of the total weight.

    A NaN fraction (weights of +inf, from a log density of +inf) counts the new group as nothing.
    """
    fraction_new = jnp.where(jnp.isnan(fraction_new), 0.0, fraction_new)
    d = new.mean - old.mean
    mean = old.mean + fraction_new * d
    variance = (1.0 - fraction_new) * old.variance + fraction_new * new.variance
    return _Moments(mean, variance + fraction_new * (1.0 - fraction_new) * d * d)


class _Subtree(NamedTuple):
    end: IntegratorState
    span: _Span
    proposal: _Proposal
    moments: _Moments
    log_sum_weight: jax.Array
    sum_acceptance: jax.Array
    num_steps: jax.Array
    is_divergent: jax.Array
    is_turning: jax.Array


class _SubtreeCarry(NamedTuple):
    num_leaves_done: jax.Array
    state: IntegratorState
    stack: jax.Array
    span: _Span
    proposal: _Proposal
    moments: _Moments
    log_sum_weight: jax.Array
    sum_acceptance: jax.Array
    is_divergent: jax.Array
    is_turning: jax.Array


class _TrajectoryCarry(NamedTuple):
    depth: jax.Array
    left: IntegratorState
    right: IntegratorState
    span: _Span  # in time order: start = left end, end = right end
    proposal: _Proposal
    moments: _Moments
    log_sum_weight: jax.Array
    sum_acceptance: jax.Array
    num_steps: jax.Array
    is_divergent: jax.Array
    is_turning: jax.Array


def _select(pred, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _reverse(span: _Span) -> _Span:
    return _Span(
        span.momentum_end, span.velocity_end, span.momentum_start, span.velocity_start, span.momentum_sum
    )


def _join(first: _Span, second: _Span) -> _Span:
    """The span of ``first`` followed by ``second`` (``first``'s end adjoins ``second``'s start)."""
    return _Span(
        first.momentum_start,
        first.velocity_start,
        second.momentum_end,
        second.velocity_end,
        first.momentum_sum + second.momentum_sum,
    )


def _is_turning_join(first: _Span, second: _Span) -> jax.Array:
    """The U-turn checks Stan makes when it merges two adjacent subtrees.

    Besides the criterion over the whole, each half is checked extended by the neighbouring
    state of the other half; this catches trajectories that turn over a span that no single
    subtree covers (e.g. Gaussians whose period is close to the trajectory length).
    """
    whole = is_turning_velocities(
        first.velocity_start, second.velocity_end, first.momentum_sum + second.momentum_sum
    )
    first_extended = is_turning_velocities(
        first.velocity_start, second.velocity_start, first.momentum_sum + second.momentum_start
    )
    second_extended = is_turning_velocities(
        first.velocity_end, second.velocity_end, second.momentum_sum + first.momentum_end
    )
    return whole | first_extended | second_extended


class TransitionDraws(NamedTuple):
    """The random numbers of one NUTS transition (:func:`transition_draws`)."""

    normal: jax.Array  # [dim] standard normal: the momentum is metric.momentum_from_normal(normal)
    is_forward: jax.Array  # [max_tree_depth] bool: the direction of each doubling
    merge_uniforms: jax.Array  # [max_tree_depth] uniforms: accept the new subtree's proposal
    leaf_seed: tuple[jax.Array, jax.Array]  # two uint32 words keying the leaves' uniforms


def transition_draws(key, dim: int, max_tree_depth: int, position_dtype, dtype) -> TransitionDraws:
    """Everything a transition draws but its leaves' uniforms, from one ``jax.random.bits`` call:
    two words per momentum coordinate and per possible merge, one word whose bit d is the
    direction of doubling d, and two words of seed."""
    words = jax.random.bits(key, (dim + max_tree_depth + 2, 2), jnp.uint32)
    normal_words, merge_words = words[:dim], words[dim : dim + max_tree_depth]
    direction_bits = words[-2, 0] >> jnp.arange(max_tree_depth, dtype=jnp.uint32)
    return TransitionDraws(
        normal=random.normal_from_words(normal_words[:, 0], normal_words[:, 1], position_dtype),
        is_forward=(direction_bits & 1) == 1,
        merge_uniforms=random.uniform_from_words(merge_words[:, 0], merge_words[:, 1], dtype),
        leaf_seed=(words[-1, 0], words[-1, 1]),
    )


def nuts(
    logdensity_fn: Callable,
    step_size,
    inverse_mass_matrix,
    max_tree_depth: int = 10,
    max_delta_energy: float = 1000.0,
) -> Kernel:
    """Build the No-U-Turn sampler (multinomial variant, generalised criterion, as in Stan).

    Args:
        logdensity_fn: log pi over a flat vector (e.g. ``Target.logdensity_fn``).
        step_size: the leapfrog step size (scalar; may be traced, for adaptation).
        inverse_mass_matrix: M^-1, a vector (diagonal) or a matrix (dense), typically the
            posterior covariance (or its diagonal).
        max_tree_depth: at most this many doublings, so at most 2^max_tree_depth - 1 gradient
            evaluations per transition.
        max_delta_energy: an energy error H - H_0 above this is a divergence: the subtree that
            produced it is discarded and the trajectory stops.

    Returns:
        A :class:`~bayeskit.mcmc._kernel.Kernel`: ``init(position) -> HMCState`` and
        ``step(key, state) -> (HMCState, NUTSInfo)``. Both are pure and can be jitted and vmapped
        over chains.

    Raises:
        ValueError: a non-scalar or non-positive step size, a malformed inverse mass matrix,
            ``max_tree_depth`` not an integer in [1, 30], or (in ``init``) a position of the
            wrong shape.
        FloatingPointError: (in ``init``, for a concrete position) the log density or its
            gradient is NaN or infinite there, so the chain could never move; for a
            :class:`~bayeskit.ppl.Target`'s ``logdensity_fn`` the message names the sites.

    Example:
        >>> kernel = nuts(logdensity_fn, 0.5, jnp.ones(2))
        >>> state = kernel.init(jnp.zeros(2))
        >>> state, info = jax.jit(kernel.step)(jax.random.key(0), state)
        >>> info.tree_depth, info.acceptance_rate
    """
    if not callable(logdensity_fn):
        raise TypeError(f"nuts: `logdensity_fn` must be callable, got {type(logdensity_fn).__name__}.")
    step_size = check_step_size("nuts", step_size)
    if (
        isinstance(max_tree_depth, bool)
        or not isinstance(max_tree_depth, int | np.integer)
        or not 1 <= max_tree_depth <= _MAX_TREE_DEPTH_LIMIT
    ):
        raise ValueError(
            f"nuts: max_tree_depth must be an integer in [1, {_MAX_TREE_DEPTH_LIMIT}], got {max_tree_depth!r}."
        )
    max_tree_depth = int(max_tree_depth)
    metric = gaussian_euclidean(inverse_mass_matrix)
    dim = int(jnp.shape(inverse_mass_matrix)[0])
    integrator = leapfrog(logdensity_fn, metric.velocity)

    def init(position) -> HMCState:
        return gradient_state("nuts", logdensity_fn, position, dim)

    def build_subtree(leaf_seed, start: IntegratorState, is_forward, depth, energy_start) -> _Subtree:
        """Integrate up to 2^depth leapfrog steps from ``start``; stop at a divergence or U-turn."""
        signed_step_size = jnp.where(is_forward, step_size, -step_size)
        num_leaves = jnp.left_shift(jnp.int32(1), depth)
        dtype = energy_start.dtype
        empty = jnp.zeros((max_tree_depth, 3, dim), start.momentum.dtype)
        zeros = jnp.zeros_like(start.position)

        def keep_going(carry: _SubtreeCarry):
            return (carry.num_leaves_done < num_leaves) & ~carry.is_divergent & ~carry.is_turning

        def add_leaf(carry: _SubtreeCarry) -> _SubtreeCarry:
            n = carry.num_leaves_done
            state = integrator(carry.state, signed_step_size)
            momentum = state.momentum
            velocity = metric.velocity(momentum)
            energy = -state.logdensity + 0.5 * jnp.dot(momentum, velocity)
            delta = energy - energy_start
            delta = jnp.where(jnp.isnan(delta), jnp.inf, delta)
            is_divergent = delta > max_delta_energy

            # Uniform progressive sampling: the leaf replaces the proposal with probability
            # w / (sum of weights so far), which draws from the subtree in proportion to exp(-H).
            log_weight = -delta
            log_sum_weight = jnp.logaddexp(carry.log_sum_weight, log_weight)
            # Its uniform: leaf n of the subtree at this depth is counter (depth, n) of the hash
            # keyed by the transition's leaf seed.
            u = random.uniform_from_words(*random.threefry2x32(*leaf_seed, depth, n), dtype)
            take = jnp.log(u) < log_weight - log_sum_weight
            leaf_proposal = _Proposal(state.position, state.logdensity, state.logdensity_grad, energy)
            proposal = _select(take, leaf_proposal, carry.proposal)
            fraction = jnp.exp(log_weight - log_sum_weight)
            moments = _merge_moments(carry.moments, _Moments(state.position, zeros), fraction)

            # The subtrees of 2, 4, ..., 2^t leaves that end at leaf n are now complete; the left
            # half of the one of 2^(k+1) leaves is stack row k. Merge and check them, smallest
            # first, stopping at the first U-turn (Stan checks nothing after a divergent step).
            num_complete = jax.lax.population_count(n ^ (n + 1)) - 1

            def merge_more(merge):
                level, _, is_turning, _ = merge
                return (level < num_complete) & ~is_turning & ~is_divergent

            def merge(merge):
                level, right, _, stack = merge
                row = jax.lax.dynamic_index_in_dim(stack, level, keepdims=False)
                left = _Span(row[0], metric.velocity(row[0]), row[1], metric.velocity(row[1]), row[2])
                return level + 1, _join(left, right), _is_turning_join(left, right), stack

            # The stack travels through the loop (unchanged), as one array, so that XLA updates the
            # row written below in place instead of copying the stack every step.
            leaf = _Span(momentum, velocity, momentum, velocity, momentum)
            _, completed, is_turning, stack = jax.lax.while_loop(
                merge_more, merge, (jnp.int32(0), leaf, jnp.asarray(False), carry.stack)
            )
            row = jnp.stack([completed.momentum_start, completed.momentum_end, completed.momentum_sum])
            stack = jax.lax.dynamic_update_index_in_dim(stack, row, num_complete, 0)
            return _SubtreeCarry(
                num_leaves_done=n + 1,
                state=state,
                stack=stack,
                span=completed,
                proposal=proposal,
                moments=moments,
                log_sum_weight=log_sum_weight,
                sum_acceptance=carry.sum_acceptance + jnp.exp(jnp.minimum(0.0, log_weight)),
                is_divergent=is_divergent,
                is_turning=is_turning,
            )

        no_proposal = _Proposal(start.position, start.logdensity, start.logdensity_grad, energy_start)
        carry = _SubtreeCarry(
            num_leaves_done=jnp.int32(0),
            state=start,
            stack=empty,
            span=_Span(*[start.momentum] * 5),  # a placeholder: the first leaf replaces it
            proposal=no_proposal,
            moments=_Moments(zeros, zeros),
            log_sum_weight=jnp.asarray(-jnp.inf, dtype),
            sum_acceptance=jnp.zeros((), dtype),
            is_divergent=jnp.asarray(False),
            is_turning=jnp.asarray(False),
        )
        carry = jax.lax.while_loop(keep_going, add_leaf, carry)
        return _Subtree(
            end=carry.state,
            span=carry.span,
            proposal=carry.proposal,
            moments=carry.moments,
            log_sum_weight=carry.log_sum_weight,
            sum_acceptance=carry.sum_acceptance,
            num_steps=carry.num_leaves_done,
            is_divergent=carry.is_divergent,
            is_turning=carry.is_turning,
        )

    def step(key, state: HMCState) -> tuple[HMCState, NUTSInfo]:
        key = check_key(key, "nuts(...).step")  # dtype and shape only: free under jit
        dtype = state.logdensity.dtype
        draws = transition_draws(key, dim, max_tree_depth, state.position.dtype, dtype)
        momentum = metric.momentum_from_normal(draws.normal)
        velocity = metric.velocity(momentum)
        energy_start = -state.logdensity + 0.5 * jnp.dot(momentum, velocity)
        start = IntegratorState(state.position, momentum, state.logdensity, state.logdensity_grad)

        def keep_going(carry: _TrajectoryCarry):
            return (carry.depth < max_tree_depth) & ~carry.is_divergent & ~carry.is_turning

        def double(carry: _TrajectoryCarry) -> _TrajectoryCarry:
            depth = carry.depth
            is_forward = draws.is_forward[depth]
            edge = _select(is_forward, carry.right, carry.left)
            subtree = build_subtree(draws.leaf_seed, edge, is_forward, depth, energy_start)
            is_valid = ~subtree.is_divergent & ~subtree.is_turning

            # Biased progressive sampling: move to the new subtree's proposal with probability
            # min(1, W_new / W_old), which favours states far from the start.
            u = draws.merge_uniforms[depth]
            take = is_valid & (jnp.log(u) < subtree.log_sum_weight - carry.log_sum_weight)
            proposal = _select(take, subtree.proposal, carry.proposal)
            merged_log_sum_weight = jnp.logaddexp(carry.log_sum_weight, subtree.log_sum_weight)
            log_sum_weight = jnp.where(is_valid, merged_log_sum_weight, carry.log_sum_weight)
            fraction = jnp.exp(subtree.log_sum_weight - merged_log_sum_weight)
            moments = _select(
                is_valid, _merge_moments(carry.moments, subtree.moments, fraction), carry.moments
            )

            # Join in integration order, then put the result back in time order.
            old = _select(is_forward, carry.span, _reverse(carry.span))
            joined = _join(old, subtree.span)
            span = _select(is_valid, _select(is_forward, joined, _reverse(joined)), carry.span)
            is_turning = subtree.is_turning | (is_valid & _is_turning_join(old, subtree.span))
            return _TrajectoryCarry(
                depth=depth + is_valid.astype(jnp.int32),
                left=_select(is_valid & ~is_forward, subtree.end, carry.left),
                right=_select(is_valid & is_forward, subtree.end, carry.right),
                span=span,
                proposal=proposal,
                moments=moments,
                log_sum_weight=log_sum_weight,
                sum_acceptance=carry.sum_acceptance + subtree.sum_acceptance,
                num_steps=carry.num_steps + subtree.num_steps,
                is_divergent=subtree.is_divergent,
                is_turning=is_turning,
            )

        carry = _TrajectoryCarry(
            depth=jnp.int32(0),
            left=start,
            right=start,
            span=_Span(momentum, velocity, momentum, velocity, momentum),
            proposal=_Proposal(state.position, state.logdensity, state.logdensity_grad, energy_start),
            moments=_Moments(state.position, jnp.zeros_like(state.position)),
            log_sum_weight=jnp.zeros((), dtype),
            sum_acceptance=jnp.zeros((), dtype),
            num_steps=jnp.int32(0),
            is_divergent=jnp.asarray(False),
            is_turning=jnp.asarray(False),
        )
        carry = jax.lax.while_loop(keep_going, double, carry)
        proposal = carry.proposal
        info = NUTSInfo(
            acceptance_rate=carry.sum_acceptance / carry.num_steps.astype(dtype),
            is_divergent=carry.is_divergent,
            energy=proposal.energy,
            tree_depth=carry.depth,
            num_integration_steps=carry.num_steps,
            is_turning=carry.is_turning,
            trajectory_mean=carry.moments.mean,
            trajectory_variance=carry.moments.variance,
        )
        return HMCState(proposal.position, proposal.logdensity, proposal.logdensity_grad), info

    return Kernel(init, step, max_tree_depth=max_tree_depth)
