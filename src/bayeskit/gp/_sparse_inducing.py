"""Inducing inputs for sparse GPs: choosing them from the data, checking them, factorising K_mm."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit.gp._data import check_inputs
from bayeskit.gp.cholesky import jittered_cholesky
from bayeskit.gp.kernels._base import Kernel

__all__ = [
    "check_inducing_columns",
    "check_inducing_points",
    "check_num_inducing",
    "inducing_cholesky",
    "select_inducing",
]


def check_num_inducing(owner: str, name: str, value) -> int:
    """``value`` as an int >= 1, or a ``ValueError`` naming argument ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{owner}: `{name}` must be an integer >= 1 (a number of inducing points), got {value!r}."
        )
    return int(value)


def check_inducing_points(owner: str, inducing_points, kernel: Kernel) -> tuple[jax.Array | None, int]:
    """Validate ``inducing_points``: an array ``(m, d)`` or a count ``m`` chosen from X at fit time.

    Returns:
        ``(Z, m)``: ``Z`` is None when a count was given.
    """
    if isinstance(inducing_points, bool):
        raise ValueError(
            f"{owner}: `inducing_points` must be an array (m, d) or an integer >= 1, got a bool."
        )
    if isinstance(inducing_points, int | np.integer):
        return None, check_num_inducing(owner, "inducing_points", inducing_points)
    Z = check_inputs(owner, inducing_points, "inducing_points")
    d = kernel.num_features
    if d is not None and Z.shape[1] != d:
        raise ValueError(
            f"{owner}: `inducing_points` has {Z.shape[1]} column(s) but the kernel {kernel!r} has {d} ARD "
            f"lengthscales; give inducing points with one column per input feature."
        )
    return Z, Z.shape[0]


def check_inducing_columns(owner: str, Z: jax.Array, X: jax.Array) -> None:
    """Raise a ``ValueError`` naming ``inducing_points`` when Z and X have different column counts."""
    if Z.shape[1] != X.shape[1]:
        raise ValueError(
            f"{owner}: `inducing_points` has {Z.shape[1]} column(s) but `X` has {X.shape[1]}; the inducing "
            f"inputs live in the input space, so they need one column per input feature."
        )


def inducing_cholesky(kernel: Kernel, Z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lower Cholesky factor of ``K_mm = k(Z, Z)`` (+ jitter only if needed), differentiable.

    Learned inducing inputs can drift onto each other, which is when the jitter matters. The
    factor is the very one the jitter search found finite (refactorising ``K_mm + jitter I``
    another way can fail where the search succeeded, and a NaN bound stalls the optimiser).
    """
    return jittered_cholesky(kernel._matrix(Z, Z, True))


@eqx.filter_jit
def _d2_seeding(key, Xs: jax.Array, num: int) -> jax.Array:
    """Indices of ``num`` rows chosen by D^2 seeding (k-means++), or greedily when ``key`` is None."""
    n = Xs.shape[0]

    def sq_dist(j):
        return jnp.sum((Xs - Xs[j]) ** 2, axis=1)

    if key is None:
        first = jnp.argmin(jnp.sum(Xs**2, axis=1))  # the row nearest the (centred) mean
    else:
        first = jax.random.randint(jax.random.fold_in(key, 0), (), 0, n)
    d2 = sq_dist(first)
    idx = jnp.zeros(num, dtype=jnp.int32).at[0].set(first.astype(jnp.int32))

    def body(i, carry):
        idx, d2 = carry
        if key is None:
            j = jnp.argmax(d2)
        else:
            # Rows already chosen have d2 = 0, hence probability 0, as long as any row is left.
            j = jax.random.categorical(jax.random.fold_in(key, i), jnp.log(d2))
        return idx.at[i].set(j.astype(jnp.int32)), jnp.minimum(d2, sq_dist(j))

    idx, _ = jax.lax.fori_loop(1, num, body, (idx, d2))
    return idx


def select_inducing(key: jax.Array | None, X, num_inducing: int) -> jax.Array:
    r"""Choose ``num_inducing`` rows of ``X`` as initial inducing inputs for SGPR or SVGP.

    With a key this is k-means++ seeding (Arthur & Vassilvitskii, 2007): the first row is drawn
    uniformly, each next row with probability proportional to its squared distance D(x)^2 to the
    nearest row already chosen, so the points spread over the data like a k-means initialisation
    (dense regions get more points, nothing is chosen twice while distinct rows remain). With
    ``key=None`` the choice is deterministic: the row nearest the mean first, then repeatedly the
    row farthest from those chosen (Gonzalez' farthest-point traversal, the greedy limit of D^2
    sampling). Distances are measured after scaling every column to unit standard deviation, so
    the choice does not depend on the units of the inputs. Cost O(n m d).

    Args:
        key: a JAX PRNG key, or None for the deterministic farthest-point choice.
        X: inputs ``(n, d)`` (a 1-D array is one column).
        num_inducing: how many rows to choose, between 1 and n.

    Returns:
        The chosen rows of ``X``, shape ``(num_inducing, d)``, in the order they were picked.

    Example:
        >>> Z = select_inducing(jax.random.key(0), X, 50)
        >>> sgpr = SGPR(RBF(), inducing_points=Z).fit(X, y)  # doctest: +SKIP
    """
    if key is not None:
        key = check_key(key, "select_inducing")
    X = check_inputs("select_inducing", X)
    num = check_num_inducing("select_inducing", "num_inducing", num_inducing)
    if num > X.shape[0]:
        raise ValueError(
            f"select_inducing: `num_inducing` is {num} but `X` has only {X.shape[0]} rows; choose at most "
            f"as many inducing points as there are data points."
        )
    scale = jnp.std(X, axis=0)
    Xs = (X - jnp.mean(X, axis=0)) / jnp.where(scale > 0, scale, 1.0)
    return X[_d2_seeding(key, Xs, num)]
