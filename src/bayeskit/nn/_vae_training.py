"""The VAE's training loop: one compiled epoch (a scan over minibatches), a progress bar between."""

from __future__ import annotations

import time
import warnings
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bayeskit._checks import check_positive_number
from bayeskit._key import check_key
from bayeskit._progress import ProgressBar
from bayeskit._stacklevel import user_stacklevel
from bayeskit.nn._standardize import Scaling
from bayeskit.nn.mlp import check_size
from bayeskit.nn.training import adam_state, like
from bayeskit.nn.vae import VAE, _elbo_terms

__all__ = ["VAEHistory", "fit_vae"]


class VAEHistory(NamedTuple):
    """What ``VAE.fit`` recorded, one entry per completed epoch.

    Attributes:
        train_elbo: mean ELBO per example over the epoch's minibatches (nats), taken while the
            parameters moved, so it lags the end-of-epoch model a little.
        train_reconstruction: the same mean of the reconstruction term E_q[log p(x | z)].
        train_kl: the same mean of KL(q(z | x) || N(0, I)).
        valid_elbo: mean ELBO per example on ``X_valid`` after each epoch, or ``None``.
        fit_time: wall time of the fit in seconds, compilation included.
    """

    train_elbo: np.ndarray
    train_reconstruction: np.ndarray
    train_kl: np.ndarray
    valid_elbo: np.ndarray | None
    fit_time: float


def _check_rows(vae: VAE, name: str, X) -> jax.Array:
    X = vae._check_x("VAE.fit", name, X)
    if X.ndim != 2:
        raise ValueError(
            f"VAE.fit: `{name}` must be a 2-D array (n, {vae.num_features}), got shape {tuple(X.shape)}."
        )
    return X


def fit_vae(
    vae: VAE,
    key: jax.Array,
    X_train,
    *,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    optimizer,
    X_valid,
    progress_bar: bool,
    standardize: bool | None = None,
):
    """See :meth:`bayeskit.nn.VAE.fit`."""
    start = time.perf_counter()
    key = check_key(key, "VAE.fit")
    X = _check_rows(vae, "X_train", X_train)
    n = X.shape[0]
    num_epochs = check_size("VAE.fit", "num_epochs", num_epochs)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or not 1 <= batch_size <= n
    ):
        raise ValueError(
            f"VAE.fit: `batch_size` must be an integer from 1 to the number of training rows ({n}), "
            f"got {batch_size!r}."
        )
    vae = _with_scaling(vae, X, standardize)
    trainable = eqx.filter(vae, _trainable(vae))
    if optimizer is None:
        learning_rate = check_positive_number("VAE.fit", "learning_rate", learning_rate)
        opt_state = adam_state(_ADAM, trainable, learning_rate)
        optimizer = _ADAM
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(
            f"VAE.fit: `optimizer` must be an optax.GradientTransformation, got {type(optimizer).__name__}."
        )
    else:
        opt_state = optimizer.init(trainable)
    Xv = None if X_valid is None else _check_rows(vae, "X_valid", X_valid)
    records: list[np.ndarray] = []
    valid: list[float] = []
    progress = _Progress(progress_bar, num_epochs)
    try:
        with progress:
            for e in range(num_epochs):
                new_vae, new_state, stats, v = _epoch(
                    vae, opt_state, jax.random.fold_in(key, e), X, Xv, optimizer, batch_size
                )
                stats = np.asarray(stats)
                if not np.all(np.isfinite(stats)):
                    warnings.warn(
                        f"VAE.fit: the ELBO became non-finite in epoch {e + 1}; stopped and kept the model "
                        f"after epoch {e}. Lower `learning_rate` or use a smaller network.",
                        RuntimeWarning,
                        stacklevel=user_stacklevel(),
                    )
                    break
                vae, opt_state = new_vae, new_state
                records.append(stats)
                if Xv is not None:
                    valid.append(float(v))
                progress.update(e + 1, stats[0], valid[-1] if valid else None)
    except KeyboardInterrupt:
        warnings.warn(
            f"VAE.fit: interrupted; kept the model after {len(records)} epoch(s).",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )
    table = np.asarray(records).reshape(-1, 3)
    history = VAEHistory(
        train_elbo=table[:, 0],
        train_reconstruction=table[:, 1],
        train_kl=table[:, 2],
        valid_elbo=np.asarray(valid) if Xv is not None else None,
        fit_time=time.perf_counter() - start,
    )
    return vae, history


def _with_scaling(vae: VAE, X: jax.Array, standardize) -> VAE:
    """``vae`` with the training rows' feature scaling (Gaussian decoder), unless it has one."""
    if standardize is not None and not isinstance(standardize, bool | np.bool_):
        raise ValueError(f"VAE.fit: `standardize` must be True, False or None, got {standardize!r}.")
    if vae.likelihood == "bernoulli":
        if standardize:
            raise ValueError(
                "VAE.fit: `standardize=True` needs likelihood='gaussian'; the Bernoulli decoder models "
                "data in [0, 1] as they are."
            )
        return vae
    if standardize is False or vae.scaling is not None:
        return vae
    return eqx.tree_at(lambda v: v.scaling, vae, Scaling.fit(X), is_leaf=lambda x: x is None)


def _trainable(vae: VAE):
    """The filter of the arrays the optimiser moves: every float array except the data's scaling."""
    spec = jax.tree.map(eqx.is_inexact_array, vae)
    if vae.scaling is None:
        return spec
    return eqx.tree_at(lambda v: v.scaling, spec, replace=jax.tree.map(lambda _: False, vae.scaling))


# One transformation object for the default Adam, its learning rate held in the optimiser state:
# the compiled epoch is then reused by every fit with the same shapes, whatever the rate.
_ADAM = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


@eqx.filter_jit
def _epoch(vae: VAE, opt_state, key, X, X_valid, optimizer, batch_size: int):
    params, static = eqx.partition(vae, _trainable(vae))
    n = X.shape[0]
    num_batches = n // batch_size

    def loss(params, key, xb):
        terms = _elbo_terms(eqx.combine(params, static), key, xb, 1)
        return -jnp.mean(terms.elbo), terms

    def step(carry, inputs):
        params, opt_state = carry
        rows, key = inputs
        (_, terms), grads = jax.value_and_grad(loss, has_aux=True)(params, key, X[rows])
        updates, new_state = optimizer.update(grads, opt_state, params)
        # The carry keeps its dtypes (float32 Adam constants promote float16 moments).
        params, opt_state = like((optax.apply_updates(params, updates), new_state), (params, opt_state))
        stats = jnp.stack([jnp.mean(terms.elbo), jnp.mean(terms.reconstruction), jnp.mean(terms.kl)])
        return (params, opt_state), stats

    k_perm, k_steps, k_valid = jax.random.split(key, 3)
    rows = jax.random.permutation(k_perm, n)[: num_batches * batch_size].reshape(num_batches, batch_size)
    keys = jax.random.split(k_steps, num_batches)
    (params, opt_state), stats = jax.lax.scan(step, (params, opt_state), (rows, keys))
    vae = eqx.combine(params, static)
    valid = jnp.nan
    if X_valid is not None:
        valid = jnp.mean(_elbo_terms(vae, k_valid, X_valid, 1).elbo)
    return vae, opt_state, jnp.mean(stats, axis=0), valid


class _Progress(ProgressBar):
    """The VAE's bar over epochs: training (and validation) ELBO."""

    def __init__(self, enabled: bool, total: int):
        super().__init__(enabled, total, "VAE epochs")

    def update(self, done: int, train_elbo: float, valid_elbo: float | None) -> None:
        self.show(
            done, f"ELBO {train_elbo:.2f}" + ("" if valid_elbo is None else f"  valid {valid_elbo:.2f}")
        )
