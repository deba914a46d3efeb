"""Minibatch stochastic gradient ascent for sparse GPs, run as a compiled ``scan`` in chunks.

Between chunks the host updates a progress bar, stops on a non-finite objective and honours
Ctrl-C. Step t's minibatch uses ``fold_in(key, t)``, so the result does not depend on chunking.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bayeskit._checks import check_int as check_positive_int
from bayeskit._progress import ProgressBar
from bayeskit._stacklevel import user_stacklevel
from bayeskit.gp._fit import learnable_filter

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "StochasticFitInfo",
    "check_positive_int",
    "recent_mean",
    "stochastic_ascent",
]

DEFAULT_LEARNING_RATE = 1e-2
_RECENT = 50  # steps averaged for the final objective: one minibatch estimate alone is noisy
_MAX_CHUNK = 250  # steps per compiled chunk
# One Adam whose learning rate lives in its state, so every fit (any learning rate) reuses one compile.
_ADAM = optax.inject_hyperparams(optax.adam)(learning_rate=DEFAULT_LEARNING_RATE)


@eqx.filter_jit
def _run_chunk(objective, learned, opt_state, static, optimizer, X, y, key, start, num_steps, sizes):
    """Advance ``chunk_size`` optimiser steps in one ``scan``; steps at or past ``num_steps`` do nothing."""
    chunk_size, batch_size = sizes
    n = X.shape[0]

    def loss(learned, Xb, yb):
        return -objective(eqx.combine(learned, static), Xb, yb, n) / n

    def step(carry, i):
        learned, opt_state = carry
        if batch_size == n:
            Xb, yb = X, y
        else:  # with replacement: O(batch) per step, and still unbiased
            idx = jax.random.randint(jax.random.fold_in(key, i), (batch_size,), 0, n)
            Xb, yb = X[idx], y[idx]
        value, grad = jax.value_and_grad(loss)(learned, Xb, yb)
        updates, new_state = optimizer.update(grad, opt_state, learned)
        new_learned = optax.apply_updates(learned, updates)
        active = i < num_steps

        def keep(new, old):
            return jnp.where(active, new, old)

        carry = jax.tree.map(keep, new_learned, learned), jax.tree.map(keep, new_state, opt_state)
        return carry, jnp.where(active, -value * n, jnp.nan)

    (learned, opt_state), values = jax.lax.scan(step, (learned, opt_state), start + jnp.arange(chunk_size))
    return learned, opt_state, values


@dataclasses.dataclass(frozen=True)
class StochasticFitInfo:
    """How a stochastic-gradient fit went (``SVGP.fit_info``; L-BFGS fits report a ``FitInfo``).

    A stochastic fit runs the steps it is asked for: there is no convergence test, so read
    ``elbo_history`` (or compare ``elbo(X, y)`` across runs) to judge whether it has settled.

    Attributes:
        objective: the final ELBO, estimated as the mean of the minibatch estimates of the last
            ``min(50, num_iterations)`` steps (each taken before its step's update); for the
            exact value at the returned parameters call ``elbo(X, y)``.
        num_iterations: optimiser steps run (``num_steps`` unless interrupted).
        interrupted: whether Ctrl-C stopped the fit before ``num_steps``.
    """

    objective: float
    num_iterations: int
    interrupted: bool


def recent_mean(history) -> float:
    """The mean of the last (up to 50) objective estimates: the final objective a fit reports."""
    history = np.asarray(history)
    return float(np.mean(history[-_RECENT:])) if history.shape[0] else float("nan")


class _Progress(ProgressBar):
    """The sparse GP's bar over optimiser steps: the recent objective."""

    def __init__(self, enabled: bool, title: str, total: int):
        super().__init__(enabled, total, title)

    def update(self, done: int, recent: np.ndarray) -> None:
        if self.enabled:
            self.show(done, f"elbo {np.mean(recent):.5g}")


def _optimizer_and_state(owner: str, learned, learning_rate, optimizer):
    if optimizer is not None and learning_rate is not None:
        raise ValueError(
            f"{owner}: give `learning_rate` or `optimizer`, not both (set the rate in the optimizer)."
        )
    if optimizer is not None:
        return optimizer, optimizer.init(learned)
    learning_rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    if not (isinstance(learning_rate, int | float) and math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"{owner}: `learning_rate` must be a positive number, got {learning_rate!r}.")
    state = _ADAM.init(learned)
    rate = state.hyperparams["learning_rate"]
    hyper = {**state.hyperparams, "learning_rate": jnp.asarray(learning_rate, rate.dtype)}
    return _ADAM, state._replace(hyperparams=hyper)


def stochastic_ascent(
    objective: Callable,
    params,
    X,
    y,
    *,
    key: jax.Array,
    owner: str,
    batch_size: int,
    num_steps: int,
    learning_rate: float | None,
    optimizer: optax.GradientTransformation | None,
    fixed: tuple[str, ...],
    progress_bar: bool,
):
    """Maximise ``objective(params, X_batch, y_batch, n)`` (an unbiased estimate) over ``params``.

    The optimiser minimises ``-objective / n``, so a learning rate does not depend on n.

    Returns:
        ``(params, history, info)``: the final parameters, each step's objective estimate and a
        :class:`StochasticFitInfo`.

    Raises:
        FloatingPointError: when the objective becomes NaN or infinite.
    """
    batch_size = min(check_positive_int(owner, "batch_size", batch_size), X.shape[0])
    num_steps = check_positive_int(owner, "num_steps", num_steps)
    learned, static = eqx.partition(params, learnable_filter(params, fixed, owner))
    optimizer, opt_state = _optimizer_and_state(owner, learned, learning_rate, optimizer)
    sizes = (min(num_steps, _MAX_CHUNK), batch_size)
    history, done, interrupted = [], 0, False
    try:
        with _Progress(progress_bar, owner.split(".")[0], num_steps) as progress:
            while done < num_steps:
                learned, opt_state, values = _run_chunk(
                    objective, learned, opt_state, static, optimizer, X, y, key,
                    jnp.int32(done), jnp.int32(num_steps), sizes,
                )  # fmt: skip
                values = np.asarray(values)[: num_steps - done]
                history.append(values)
                done += values.shape[0]
                progress.update(done, values[-20:])
                if not np.isfinite(values[-1]):
                    raise FloatingPointError(
                        f"{owner}: the ELBO became {values[-1]} after {done} steps; lower `learning_rate`, "
                        f"standardise X and y, or spread the inducing points."
                    )
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"{owner}: interrupted after {done} of {num_steps} steps; returning that state.",
            stacklevel=user_stacklevel(),
        )
    history = np.concatenate(history) if history else np.zeros(0)
    info = StochasticFitInfo(objective=recent_mean(history), num_iterations=done, interrupted=interrupted)
    return eqx.combine(learned, static), history, info
