"""Block Gibbs sampling: exact conditional draws and Metropolis-within-Gibbs updates.

The state is a dict of named block values. One step visits the blocks in order; each either
draws its value exactly from its full conditional given the current values of all the others,
or takes one random-walk Metropolis step on that conditional. Every update leaves the joint
posterior invariant, so the sweep does too. Ready-made conditionals for the classic conjugate
models (including discrete mixture assignments) are in
:mod:`bayeskit.mcmc.gibbs_conditionals`.

References:
    Geman & Geman (1984), "Stochastic relaxation, Gibbs distributions, and the Bayesian
    restoration of images". Gelfand & Smith (1990), "Sampling-based approaches to calculating
    marginal densities". Tierney (1994), "Markov chains for exploring posterior distributions"
    (Metropolis-within-Gibbs hybrids).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from bayeskit._key import check_key
from bayeskit.dist.constraints import Constraint
from bayeskit.mcmc._kernel import Kernel
from bayeskit.mcmc.rwmh import check_scale, proposal_cholesky, rwmh_kernel

__all__ = ["GibbsBlock", "GibbsInfo", "gibbs"]


class GibbsBlock(NamedTuple):
    """One update of a Gibbs sweep: the block it changes and how.

    Give exactly one of:

    - ``sampler``: ``fn(key, state) -> value``, an exact draw from the block's full conditional
      given ``state`` (the dict of all current block values). The value must keep the block's
      shape; it is cast to the block's dtype.
    - ``logdensity_fn``: ``fn(value, state) -> log p(value | rest)`` up to a constant, for a
      real-valued block; the update is one Gaussian random-walk Metropolis step on the
      flattened value with standard deviation ``scale`` (and, optionally, shape
      ``proposal_covariance``). ``state[name]`` holds the current value; read the block from
      ``value``, not from ``state``.

    ``support``, optional, is the set the block's values live in (a
    :mod:`bayeskit.dist.constraints` constraint, e.g. ``constraints.positive`` for a variance):
    ``init`` rejects a starting value outside it, naming the block, instead of letting the
    conditionals that read it (a division by a variance, the log of a weight) turn every draw
    into NaN. Every real-valued block's starting value must also be finite.

    Attributes:
        name: the key of the block in the state dict.
        sampler: exact conditional sampler, or ``None``.
        logdensity_fn: conditional log density for Metropolis-within-Gibbs, or ``None``.
        scale: the random-walk proposal scale (required with ``logdensity_fn``).
        proposal_covariance: optional proposal covariance over the flattened block.
        support: optional constraint that the block's starting value must satisfy.
    """

    name: str
    sampler: Callable | None = None
    logdensity_fn: Callable | None = None
    scale: Any = None
    proposal_covariance: Any = None
    support: Constraint | None = None


class GibbsInfo(NamedTuple):
    """Per-block diagnostics of one sweep, keyed by block name.

    Attributes:
        acceptance_rate: the Metropolis acceptance probability of each block's update
            (1.0 for exact samplers).
        is_accepted: whether each block moved (always ``True`` for exact samplers).
    """

    acceptance_rate: dict[str, jax.Array]
    is_accepted: dict[str, jax.Array]


def _check_blocks(blocks) -> tuple[GibbsBlock, ...]:
    if isinstance(blocks, GibbsBlock) or not isinstance(blocks, Sequence) or not blocks:
        raise TypeError(
            "gibbs: `blocks` must be a non-empty list of GibbsBlock, e.g. "
            "[GibbsBlock('w', sampler=draw_w), GibbsBlock('s', logdensity_fn=lp_s, scale=0.5)]."
        )
    seen = set()
    checked = []
    for i, block in enumerate(blocks):
        if not isinstance(block, GibbsBlock):
            raise TypeError(f"gibbs: blocks[{i}] must be a GibbsBlock, got {type(block).__name__}.")
        if not isinstance(block.name, str) or not block.name:
            raise TypeError(f"gibbs: blocks[{i}].name must be a non-empty string, got {block.name!r}.")
        if block.name in seen:
            raise ValueError(f"gibbs: block `{block.name}` appears twice; give each block one update.")
        seen.add(block.name)
        has_sampler, has_density = block.sampler is not None, block.logdensity_fn is not None
        if has_sampler == has_density:
            raise ValueError(
                f"gibbs: block `{block.name}` must give exactly one of `sampler` (an exact conditional "
                f"draw) and `logdensity_fn` (a Metropolis-within-Gibbs update); it gives "
                f"{'both' if has_sampler else 'neither'}."
            )
        if has_sampler and not callable(block.sampler):
            raise TypeError(f"gibbs: block `{block.name}`: `sampler` must be callable.")
        if has_density:
            if not callable(block.logdensity_fn):
                raise TypeError(f"gibbs: block `{block.name}`: `logdensity_fn` must be callable.")
            if block.scale is None:
                raise ValueError(
                    f"gibbs: block `{block.name}` uses `logdensity_fn` and needs a proposal `scale` "
                    "(the random-walk standard deviation, about 2.4 / sqrt(size) times the conditional sd)."
                )
            check_scale(block.scale, f"gibbs: block `{block.name}`")
            if block.proposal_covariance is not None:
                block = block._replace(
                    proposal_covariance=proposal_cholesky(
                        block.proposal_covariance, f"gibbs: block `{block.name}`"
                    )
                )
        elif block.proposal_covariance is not None or block.scale is not None:
            raise ValueError(
                f"gibbs: block `{block.name}` has an exact `sampler`; `scale` and `proposal_covariance` "
                "only apply to `logdensity_fn` blocks."
            )
        if block.support is not None and not isinstance(block.support, Constraint):
            raise TypeError(
                f"gibbs: block `{block.name}`: `support` must be a constraint from bayeskit.dist.constraints "
                f"(e.g. constraints.positive), got {type(block.support).__name__}."
            )
        checked.append(block)
    return tuple(checked)


def _strong_array(x) -> jax.Array:
    # A Python number becomes a weakly typed array; fix its dtype so loops carry a stable type.
    x = jnp.asarray(x)
    return jnp.asarray(x, dtype=x.dtype)


def _conform(name: str, new, old):
    """Give a sampler's output the block's structure, shape and dtype (for a fixed-shape loop)."""
    new_leaves, new_tree = jax.tree.flatten(new)
    old_leaves, old_tree = jax.tree.flatten(old)
    if new_tree != old_tree:
        raise ValueError(
            f"gibbs: the sampler of block `{name}` returned structure {new_tree}, expected {old_tree}."
        )
    out = []
    for n, o in zip(new_leaves, old_leaves):
        n = jnp.asarray(n)
        if n.shape != o.shape:
            raise ValueError(
                f"gibbs: the sampler of block `{name}` returned shape {tuple(n.shape)}, but the block has "
                f"shape {tuple(o.shape)}; a Gibbs update must keep each block's shape."
            )
        if jnp.issubdtype(n.dtype, jnp.inexact) and not jnp.issubdtype(o.dtype, jnp.inexact):
            # Casting back would truncate every draw (a sigma2 started as 1 stays 0 and the chain
            # turns to NaN).
            raise TypeError(
                f"gibbs: the sampler of block `{name}` draws real numbers, but the block's starting "
                f"value has integer dtype {o.dtype}; start it from floats (1.0, not 1)."
            )
        out.append(n.astype(o.dtype))
    return jax.tree.unflatten(old_tree, out)


def _check_start_value(block: GibbsBlock, value) -> None:
    """A concrete starting value of ``block`` must be finite (if real) and inside its ``support``."""
    leaves = jax.tree.leaves(value)
    if any(isinstance(x, jax.core.Tracer) for x in leaves):
        return  # under jit/vmap: nothing to look at
    for x in leaves:
        host = np.asarray(x)
        if np.issubdtype(host.dtype, np.inexact) and not np.all(np.isfinite(host)):
            raise ValueError(
                f"gibbs: the starting value of block `{block.name}` has {int(np.sum(~np.isfinite(host)))} "
                "NaN or infinite entries; every draw after it would be NaN. Give finite starting values."
            )
    if block.support is None:
        return
    if len(leaves) != 1:
        raise ValueError(
            f"gibbs: block `{block.name}` declares the support {block.support!r}, which applies to one "
            f"array, but its starting value is a pytree of {len(leaves)} arrays."
        )
    host = np.asarray(leaves[0])
    inside = np.asarray(block.support.check(host))
    if not inside.all():
        shown = host[~inside] if inside.shape == host.shape else host
        values = (
            repr(host.item())
            if host.ndim == 0
            else np.array2string(np.ravel(shown)[:5], precision=4) + (" ..." if np.size(shown) > 5 else "")
        )
        expected = _SUPPORT_WORDS.get(repr(block.support), f"in its support, {block.support!r}")
        raise ValueError(
            f"gibbs: the starting value of block `{block.name}` must be {expected}, got {values}. "
            "The conditionals that read it are defined only there (they divide by a variance or take "
            f"the log of a weight), and from outside the draws come out NaN or wrong. Start "
            f"`{block.name}` inside its support."
        )


_SUPPORT_WORDS = {
    "positive": "positive (> 0)",
    "simplex": "on the simplex (entries >= 0 that sum to 1)",
    "nonnegative": "non-negative",
    "unit_interval": "in [0, 1]",
}


def _metropolis_update(block: GibbsBlock, key, state: dict):
    """One random-walk Metropolis step on the block's conditional; returns (value, info)."""
    flat, unravel = ravel_pytree(state[block.name])
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        raise TypeError(
            f"gibbs: block `{block.name}` is not real-valued (dtype {flat.dtype}); Metropolis-within-Gibbs "
            "updates need floats. Give it a `sampler` instead, or store it as floats."
        )

    def conditional(z):
        return block.logdensity_fn(unravel(z), state)

    kernel = rwmh_kernel(conditional, block.scale, block.proposal_covariance)
    chain, info = kernel.step(key, kernel.init(flat))
    return unravel(chain.position), info


def gibbs(blocks: Sequence[GibbsBlock]) -> Kernel:
    r"""Build a block Gibbs kernel that updates the named blocks of a dict state in order.

    For blocks :math:`\theta_1, \dots, \theta_B` one step draws, in turn,
    :math:`\theta_b \sim p(\theta_b \mid \theta_{<b}^{\text{new}}, \theta_{>b}^{\text{old}}, y)`
    (exactly, with a block's ``sampler``) or applies a random-walk Metropolis step that leaves
    that conditional invariant (with its ``logdensity_fn``). Discrete blocks (mixture
    assignments, say) are sampled this way: they need an exact sampler.

    ``init(state_dict)`` checks that every block is present and returns the dict with array
    values; keys without a block are carried unchanged (data or constants the samplers read).
    ``step(key, state) -> (state, GibbsInfo)`` is jittable (shapes are fixed) and vmaps over
    chains. :func:`~bayeskit.mcmc.sample` runs it like any kernel: many chains, burn-in, a
    :class:`~bayeskit.Posterior` of the blocks with R-hat and ESS (``sample(key, None, kernel,
    init=state)``).

    Args:
        blocks: ordered :class:`GibbsBlock` updates, one per block name.

    Returns:
        A :class:`~bayeskit.mcmc._kernel.Kernel`.

    Raises:
        TypeError, ValueError: a malformed block (missing or doubled update, duplicate name, bad
            scale); at ``init``, a block missing from the state, or a concrete starting value that
            is not finite or lies outside its block's ``support`` (naming the block and the
            support); during ``step``, a sampler that changes its block's shape.

    Example:
        >>> blocks = linear_regression_blocks(X, y, prior_mean=0.0, prior_precision=1.0, a0=2.0, b0=1.0)
        >>> kernel = gibbs(blocks)
        >>> state = kernel.init({"weights": jnp.zeros(X.shape[1]), "sigma2": 1.0})
        >>> state, info = jax.jit(kernel.step)(jax.random.key(0), state)
    """
    blocks = _check_blocks(blocks)
    names = [b.name for b in blocks]

    def init(position: dict) -> dict:
        if not isinstance(position, dict):
            raise TypeError(
                f"gibbs: the state must be a dict of block values keyed by {names}, got {type(position).__name__}."
            )
        missing = [n for n in names if n not in position]
        if missing:
            raise ValueError(
                f"gibbs: the initial state has no value for block(s) {missing}; it needs all of {names}."
            )
        for block in blocks:
            _check_start_value(block, position[block.name])
        return {k: jax.tree.map(_strong_array, v) for k, v in position.items()}

    def step(key: jax.Array, state: dict) -> tuple[dict, GibbsInfo]:
        key = check_key(key, "gibbs(...).step")  # dtype and shape only: free under jit
        state = dict(state)
        keys = jax.random.split(key, len(blocks))
        dtype = jnp.result_type(float)
        acceptance_rate, is_accepted = {}, {}
        for block_key, block in zip(keys, blocks):
            if block.sampler is not None:
                value = _conform(block.name, block.sampler(block_key, state), state[block.name])
                acceptance_rate[block.name] = jnp.ones((), dtype)
                is_accepted[block.name] = jnp.ones((), bool)
            else:
                value, info = _metropolis_update(block, block_key, state)
                acceptance_rate[block.name] = info.acceptance_rate.astype(dtype)
                is_accepted[block.name] = info.is_accepted
            state[block.name] = value
        return state, GibbsInfo(acceptance_rate, is_accepted)

    return Kernel(init=init, step=step, sites=tuple(names))
