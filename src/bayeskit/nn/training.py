r"""Minibatch training with optax: each epoch one compiled ``lax.scan``, early stopping on validation.

``train`` minimises ``loss_fn(key, params, X_batch, y_batch)`` (a per-point average, regularisers
already scaled by the batch's share of the data) with any optax optimiser. One epoch shuffles the
rows and scans over ``ceil(n / batch_size)`` minibatches (the last one topped up with rows from the
start of the shuffled order, so every row is seen each epoch and every batch has the same shape).

Early stopping: after every epoch ``val_fn(key, params, X_val, y_val)`` is evaluated; the best
parameters so far are kept, and once ``patience`` epochs pass without improvement the updates stop
and ``train`` returns the best parameters. All of it is pure JAX, so ``train`` also runs under
``vmap`` (e.g. one network per data split, trained at once): traced inputs are trained in one
scan over all epochs, and a stopped run simply stops changing.

Concrete inputs run the compiled scan in chunks of epochs so that a ``rich`` progress bar can
update in between and the loop can end as soon as every run has stopped.

Reference: Prechelt (1998), "Early stopping -- but when?"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bayeskit._checks import check_int
from bayeskit._key import check_key

__all__ = ["TrainHistory", "TrainState", "adam_state", "like", "train"]


class TrainState(NamedTuple):
    """What one training run carries from epoch to epoch."""

    params: object
    opt_state: object
    best_params: object
    best_loss: jax.Array
    since_best: jax.Array
    epoch: jax.Array


class TrainHistory(eqx.Module):
    """Per-epoch losses of a training run (NaN for epochs never run).

    Attributes:
        train_loss: mean minibatch loss per epoch, shape ``(num_epochs,)``.
        val_loss: validation loss per epoch (NaN without validation data).
        best_epoch: the epoch whose parameters were returned (0-based).
        num_epochs_run: epochs actually run before stopping.
    """

    train_loss: jax.Array
    val_loss: jax.Array
    best_epoch: jax.Array
    num_epochs_run: jax.Array


# Adam with its step size kept in the optimiser state, so one object (hence one compiled program)
# serves every learning rate.
_ADAM = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


def adam_state(adam, params, learning_rate):
    """The state of ``adam`` (an ``inject_hyperparams(optax.adam)``) for ``params``, at ``learning_rate``.

    Adam's constants are kept in at least float32: inject_hyperparams stores them in the
    parameters' dtype, and bfloat16 rounds b2 = 0.999 to 1 (the bias correction 1 - b2^t is then
    0) and float16 rounds eps = 1e-8 to 0 (0/0 where a gradient is 0): every update was NaN. A
    strongly typed constant keeps its dtype in the updates; :func:`like` casts the moments back.
    """
    state = adam.init(params)
    dtype = jnp.promote_types(jnp.result_type(*jax.tree.leaves(params)), jnp.float32)
    hyper = dict(adam.init(jnp.zeros((), dtype)).hyperparams)
    hyper["learning_rate"] = jnp.asarray(learning_rate, dtype)
    return state._replace(hyperparams=hyper)


def _init_optimizer(optimizer, params, learning_rate):
    if optimizer is not None:
        return optimizer.init(params)
    return adam_state(_ADAM, params, learning_rate)


def _select(flag, a, b):
    return jax.tree.map(lambda x, y: jnp.where(flag, x, y), a, b)


def like(new, old):
    """``new`` with each array leaf in the dtype of ``old``'s: a scan carry keeps its types.

    Float32 parameters meet float64 values under x64 (data, or the float64 ``b1``/``b2`` arrays
    that ``optax.inject_hyperparams`` makes), and the promoted moments or loss broke the epoch's
    ``lax.scan`` with a raw carry-type error.
    """
    return jax.tree.map(lambda x, y: jnp.asarray(x).astype(jnp.result_type(y)), new, old)


def _is_traced(*trees) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(trees))


def _epoch(loss_fn, val_fn, optimizer, batch_size: int, num_epochs, patience, state: TrainState, key, data):
    X, y, X_val, y_val = data
    n = X.shape[0]
    num_batches = math.ceil(n / batch_size)
    k_perm, k_steps, k_val = jax.random.split(key, 3)
    order = jax.random.permutation(k_perm, n)
    rows = order[jnp.arange(num_batches * batch_size) % n].reshape(num_batches, batch_size)
    active = (state.epoch < num_epochs) & (state.since_best < patience)
    grad_fn = jax.value_and_grad(loss_fn, argnums=1)

    def step(carry, inputs):
        params, opt_state = carry
        idx, k = inputs
        loss, grads = grad_fn(k, params, X[idx], y[idx])
        updates, new_opt = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        new = like((new_params, new_opt), (params, opt_state))
        return _select(active, new, (params, opt_state)), loss

    keys = jax.random.split(k_steps, num_batches)
    (params, opt_state), losses = jax.lax.scan(step, (state.params, state.opt_state), (rows, keys))
    train_loss = jnp.mean(losses)
    nan = jnp.asarray(jnp.nan, train_loss.dtype)
    if val_fn is None:
        val_loss, better = nan, active
    else:
        val_loss = val_fn(k_val, params, X_val, y_val).astype(train_loss.dtype)
        better = active & (val_loss < state.best_loss)
    # The carry keeps the dtype it started in (the parameters'); the history keeps the loss's own.
    best_loss = jnp.where(better, val_loss, state.best_loss).astype(state.best_loss.dtype)
    state = TrainState(
        params=params,
        opt_state=opt_state,
        best_params=_select(better, params, state.best_params),
        best_loss=best_loss,
        since_best=jnp.where(better, 0, jnp.where(active, state.since_best + 1, state.since_best)),
        epoch=jnp.where(active, state.epoch + 1, state.epoch),
    )
    return state, (jnp.where(active, train_loss, nan), jnp.where(active, val_loss, nan))


def _run(loss_fn, val_fn, optimizer, batch_size, num_epochs, patience, state, keys, data):
    def body(s, k):
        return _epoch(loss_fn, val_fn, optimizer, batch_size, num_epochs, patience, s, k, data)

    return jax.lax.scan(body, state, keys)


# Compiled once per (loss and validation modules' static structure, optimiser, batch size, shapes):
# hyperparameters inside equinox-module losses are traced, so a second fit reuses the program.
_run_compiled = eqx.filter_jit(_run)


def train(
    key: jax.Array,
    params,
    loss_fn: Callable,
    X: jax.Array,
    y: jax.Array,
    *,
    num_epochs: int,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate=1e-3,
    batch_size: int = 32,
    validation: tuple[jax.Array, jax.Array] | None = None,
    val_fn: Callable | None = None,
    patience: int | None = None,
    chunk_epochs: int = 100,
    progress_bar: bool = False,
    description: str = "training",
) -> tuple[object, TrainHistory]:
    """Minimise ``loss_fn`` over minibatches; return the best parameters and the per-epoch history.

    Compiled code is reused across calls when ``loss_fn``, ``val_fn`` and ``optimizer`` compare
    equal: write losses as ``equinox.Module`` instances whose hyperparameters are array fields
    (a plain closure compiles once per call, which is fine for one-off use).

    Args:
        key: a ``jax.random`` key (shuffles, minibatch keys and validation keys are split from it).
        params: the initial parameters (any pytree of arrays).
        loss_fn: ``loss_fn(key, params, X_batch, y_batch) -> scalar``.
        X, y: training inputs and targets (leading axis: rows).
        num_epochs: the most epochs to run.
        optimizer: an optax gradient transformation; ``None`` (default) is Adam with
            ``learning_rate``, whose compiled code is shared by every call (the rate is data).
        learning_rate: Adam's step size when ``optimizer`` is None (may be traced).
        batch_size: rows per minibatch (capped at the number of rows).
        validation: ``(X_val, y_val)`` for early stopping; ``None`` keeps the last parameters.
        val_fn: ``val_fn(key, params, X_val, y_val) -> scalar``, lower is better (needed with
            ``validation``).
        patience: epochs without a better validation loss before stopping (default: never stop,
            but still return the best epoch's parameters).
        chunk_epochs: epochs per compiled call between progress updates (concrete inputs only).
        progress_bar: show a ``rich`` progress bar.
        description: the progress bar's label.

    Returns:
        ``(best_params, history)``.

    Example:
        >>> loss = lambda k, w, X, y: jnp.mean((X @ w - y) ** 2)
        >>> w, hist = train(key, jnp.zeros(3), loss, X, y, num_epochs=20, learning_rate=0.1)
    """
    key = check_key(key, "nn.train")
    if validation is not None and val_fn is None:
        raise ValueError("train: `validation` data was given without a `val_fn` to score it.")
    if validation is None:
        val_fn, X_val, y_val = None, X[:1], y[:1]
    else:
        X_val, y_val = validation
    num_epochs = check_int("train", "num_epochs", num_epochs)
    batch_size = int(min(check_int("train", "batch_size", batch_size), X.shape[0]))
    limit = num_epochs + 1 if patience is None else check_int("train", "patience", patience)
    chunk_epochs = check_int("train", "chunk_epochs", chunk_epochs)
    # Python numbers become arrays (a float parameter was a raw AttributeError on `.dtype`).
    params = jax.tree.map(lambda leaf: leaf if hasattr(leaf, "dtype") else jnp.asarray(leaf), params)
    leaves = jax.tree.leaves(params)
    if not leaves or not all(jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves):
        raise ValueError(
            "train: `params` must be a pytree of floating-point arrays (the optimiser changes them by "
            f"fractions), got dtypes {sorted({str(leaf.dtype) for leaf in leaves}) or 'none'}."
        )
    dtype = jnp.result_type(*[leaf.dtype for leaf in leaves])
    state = TrainState(
        params=params,
        opt_state=_init_optimizer(optimizer, params, learning_rate),
        best_params=params,
        best_loss=jnp.asarray(jnp.inf, dtype),
        since_best=jnp.asarray(0),
        epoch=jnp.asarray(0),
    )
    data = (X, y, X_val, y_val)
    keys = jax.random.split(key, num_epochs)
    optimizer = _ADAM if optimizer is None else optimizer
    static = (loss_fn, val_fn, optimizer, batch_size, jnp.asarray(num_epochs), jnp.asarray(limit))
    if _is_traced(params, data, key):
        state, (train_loss, val_loss) = _run(*static, state, keys, data)
    else:
        chunk = min(chunk_epochs, num_epochs)
        num_chunks = math.ceil(num_epochs / chunk)
        extra = jax.random.split(jax.random.fold_in(key, 1), num_chunks * chunk - num_epochs)
        keys = jnp.concatenate([keys, extra])
        pieces = []
        with _progress(progress_bar) as bar:
            task = bar.add_task(description, total=num_epochs)
            for c in range(num_chunks):
                state, out = _run_compiled(*static, state, keys[c * chunk : (c + 1) * chunk], data)
                pieces.append(out)
                bar.update(task, completed=int(state.epoch))
                if int(state.since_best) >= limit:
                    break
        train_loss, val_loss = (jnp.concatenate(p)[:num_epochs] for p in zip(*pieces))
        pad = num_epochs - train_loss.shape[0]
        if pad:
            train_loss, val_loss = (
                jnp.pad(a, (0, pad), constant_values=jnp.nan) for a in (train_loss, val_loss)
            )
    if val_fn is None:
        best_params, best_epoch = state.params, state.epoch - 1
    else:
        if not _is_traced(val_loss) and not np.any(np.isfinite(np.asarray(val_loss))):
            raise FloatingPointError(
                "train: the validation loss was NaN or infinite at every epoch, so no parameters "
                "could be chosen (the initial ones would be returned). Check the validation data, "
                "or lower the learning rate if the training loss diverged too."
            )
        best_params = state.best_params
        best_epoch = jnp.argmin(jnp.where(jnp.isnan(val_loss), jnp.inf, val_loss), axis=-1)
    return best_params, TrainHistory(train_loss, val_loss, best_epoch, state.epoch)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return None

    def update(self, *args, **kwargs):
        return None


def _progress(enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
