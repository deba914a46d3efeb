"""Running a kernel that the user built (a Gibbs sweep, an RWMH with a hand-set proposal, ...).

:func:`~bayeskit.mcmc.sample` tunes the kernels it knows by name (step size, mass matrix). A
:class:`~bayeskit.mcmc._kernel.Kernel` object is run as it is: warmup iterations are burn-in
(discarded, nothing adapted), and each kept state becomes a draw through ``record``. The rest of
the driver (vectorised chains, chunks, progress, checkpoints, Ctrl-C, ``until_converged``, the
Posterior and its diagnostics) is shared with the named kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

__all__ = ["check_kernel", "check_record", "custom_chunk_body", "custom_start", "default_record"]


def check_kernel(kernel) -> None:
    """A user kernel must have ``init(position)`` and ``step(key, state)``."""
    if not (callable(getattr(kernel, "init", None)) and callable(getattr(kernel, "step", None))):
        raise TypeError(
            "sample: `kernel` must be the name of a kernel ('nuts', 'hmc', 'rwmh') or a kernel object "
            "with init(position) and step(key, state), such as bayeskit.mcmc.gibbs(blocks) or "
            f"bayeskit.mcmc.rwmh(logdensity_fn, scale); got {type(kernel).__name__}."
        )


def custom_start(key, kernel, num_chains: int, init):
    """Initial states of ``num_chains`` chains from ``init`` (one state for all, or one per chain).

    Returns ``(states, chain_keys)`` with a leading chain axis on every state array; the keys are
    split the way the named kernels' start splits them.
    """
    if init is None:
        raise ValueError(
            "sample: a kernel without a target needs `init`, its starting state (for a Gibbs kernel, "
            "the dict of block values), or a list of num_chains such states."
        )
    if isinstance(init, list | tuple):
        if len(init) != num_chains:
            raise ValueError(
                f"sample: `init` lists {len(init)} starting states for num_chains={num_chains}; give one "
                "state per chain, or a single state that every chain starts from."
            )
        states = [kernel.init(s) for s in init]
        shapes = [jax.tree.map(jnp.shape, s) for s in states]
        if any(s != shapes[0] for s in shapes[1:]):
            raise ValueError("sample: the starting states in `init` differ in structure or shapes.")
        carry = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    else:
        state = kernel.init(init)
        carry = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_chains, *jnp.shape(x))), state)
    _, k_chains = jax.random.split(key)
    return carry, jax.random.split(k_chains, num_chains)


def default_record(kernel, target, state) -> Callable:
    """What a state keeps as a draw: the target's constrained sites, a Gibbs kernel's blocks, a dict
    state, or (no target) the flat ``position`` of an HMC, NUTS or random-walk state, as ``"position"``."""
    if target is not None:
        if not hasattr(state, "position"):
            raise TypeError(
                f"sample: the kernel's state ({type(state).__name__}) has no `position` to map through the "
                "target's constraints; pass `record=lambda state: {name: value}`."
            )
        return lambda s: target.constrain(s.position)
    if isinstance(state, Mapping):
        sites = getattr(kernel, "sites", None) or tuple(state)
        return lambda s: {k: s[k] for k in sites}
    if hasattr(state, "position"):  # a hand-built gradient or random-walk kernel on a flat vector
        return lambda s: {"position": s.position}
    raise TypeError(
        f"sample: cannot tell which parts of the kernel's state ({type(state).__name__}) are draws; pass "
        "`record=lambda state: {name: value}`."
    )


def check_record(record, state) -> None:
    """``record`` must map one chain's state to a dict of arrays."""
    out = jax.eval_shape(record, state)
    if not isinstance(out, Mapping) or not out:
        raise TypeError(
            "sample: `record` must return a non-empty dict {name: array} of what each state keeps as a "
            f"draw; it returned {type(out).__name__}."
        )


def _kernel_stats(info, names) -> dict:
    """Sample statistics from a kernel's info: the ``names`` fields; a Gibbs sweep's per-block acceptance."""
    fields = info._asdict() if hasattr(info, "_asdict") else dict(info) if isinstance(info, Mapping) else {}
    out = {}
    for name in names:
        value = fields.get(name)
        if isinstance(value, Mapping):  # per block (Gibbs): acceptance_rate_<block>
            out.update({f"{name}_{block}": v for block, v in value.items()})
        elif value is not None:
            out[name] = value
    return out


def custom_chunk_body(kernel, record, stat_names) -> Callable:
    """The loop body of one chain: ``body(state, (i, chain_key))``, transition ``i``.

    Each iteration yields ``record(state)`` and the info fields named in ``stat_names``.
    """

    def body(state, xs):
        i, chain_key = xs
        new_state, info = kernel.step(jax.random.fold_in(chain_key, i), state)
        return new_state, (record(new_state), _kernel_stats(info, stat_names))

    return body
