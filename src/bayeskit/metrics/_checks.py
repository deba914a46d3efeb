"""Input checks shared by the metrics: shapes always, values only when they are concrete.

Shapes are static, so they are checked even under ``jit``. Values (finiteness, positivity,
probabilities, labels) are checked only for concrete arrays; a traced value is not checked, so
a metric inside ``jit``/``vmap``/``grad`` never stops on a tracer.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import is_concrete

__all__ = [
    "broadcastable",
    "class_probabilities",
    "count",
    "finite_floats",
    "labels",
    "levels",
    "nonempty",
    "not_above",
    "observations",
    "positive",
    "probabilities",
    "same_shape",
]


def _values(x) -> np.ndarray | None:
    """Return ``x`` as a NumPy array when it holds numbers, ``None`` when it is traced."""
    if not is_concrete(x):
        return None
    # Concrete arrays can still meet staged operations inside a trace; read them eagerly.
    with jax.ensure_compile_time_eval():
        return np.asarray(x)


def _shown(values: np.ndarray, bad: np.ndarray) -> str:
    """Say which entry is bad: the value itself for a scalar, else its index and value."""
    if values.ndim == 0:
        return f"got {values.item()!r}"
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"got {values[index].item()!r} at index {list(index)} (shape {values.shape})"


def _read(fn: str, name: str, x) -> tuple[jax.Array, np.ndarray | None]:
    """Return ``x`` as a floating JAX array and, when concrete, its checked-finite values."""
    values = _values(x)
    if values is not None:
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            raise ValueError(f"{fn}: `{name}` must be numeric, got dtype {values.dtype}.")
        if np.issubdtype(values.dtype, np.complexfloating):
            raise ValueError(f"{fn}: `{name}` must be real, got dtype {values.dtype}.")
        if np.issubdtype(values.dtype, np.inexact) and not np.all(np.isfinite(values)):
            raise ValueError(
                f"{fn}: `{name}` must be finite (no NaN or inf), {_shown(values, ~np.isfinite(values))}."
            )
    # Convert eagerly so that a constant stays concrete (and checkable) inside a trace.
    with jax.ensure_compile_time_eval():
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
    return x, values


def finite_floats(fn: str, name: str, x) -> jax.Array:
    """Return ``x`` as a floating JAX array; raise if a concrete ``x`` holds NaN or inf."""
    return _read(fn, name, x)[0]


def observations(fn: str, y) -> jax.Array:
    """Return the observations ``y`` as finite floats; raise if there are none."""
    return nonempty(fn, "y", finite_floats(fn, "y", y), "observation")


def nonempty(fn: str, name: str, x: jax.Array, what: str) -> jax.Array:
    """Return ``x``; raise if it holds nothing (a zero-length axis), saying what it should hold."""
    if x.size == 0:
        raise ValueError(f"{fn}: `{name}` is empty (shape {tuple(x.shape)}); pass at least one {what}.")
    return x


def same_shape(fn: str, a_name: str, a: jax.Array, b_name: str, b: jax.Array) -> None:
    """Raise unless ``a`` and ``b`` have the same shape (one value of ``b`` per value of ``a``)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{fn}: `{a_name}` and `{b_name}` must have the same shape, got `{a_name}` "
            f"{tuple(a.shape)} and `{b_name}` {tuple(b.shape)}."
        )


def broadcastable(fn: str, name: str, x: jax.Array, to_name: str, shape: tuple[int, ...]) -> jax.Array:
    """Broadcast ``x`` to ``shape`` (that of ``to_name``), or raise naming both."""
    try:
        ok = jnp.broadcast_shapes(x.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: `{name}` of shape {tuple(x.shape)} does not broadcast to the shape of "
            f"`{to_name}`, {tuple(shape)}; pass a scalar or an array of that shape."
        )
    with jax.ensure_compile_time_eval():
        return jnp.broadcast_to(x, shape)


def not_above(fn: str, lo_name: str, lo: jax.Array, hi_name: str, hi: jax.Array) -> None:
    """Raise if concrete ``lo`` exceeds ``hi`` anywhere (both already the same shape)."""
    lo_values, hi_values = _values(lo), _values(hi)
    if lo_values is None or hi_values is None:
        return
    crossed = lo_values > hi_values
    if crossed.any():
        index = tuple(int(i) for i in np.argwhere(crossed)[0])
        raise ValueError(
            f"{fn}: `{lo_name}` must not exceed `{hi_name}`, but at index {list(index)} "
            f"`{lo_name}` = {lo_values[index].item()!r} > `{hi_name}` = {hi_values[index].item()!r}; "
            "are they swapped?"
        )


def positive(fn: str, name: str, x) -> jax.Array:
    """Return ``x`` as a finite floating array; raise if a concrete ``x`` has an entry <= 0."""
    x, values = _read(fn, name, x)
    if values is not None and not np.all(values > 0):
        raise ValueError(f"{fn}: `{name}` must be positive, {_shown(values, ~(values > 0))}.")
    return x


def _tolerance(dtype) -> float:
    # Probabilities from a softmax sum to 1 only up to rounding: ~1e-4 in float32, 1e-6 in float64.
    return min(max(1e-6, 1000.0 * float(jnp.finfo(dtype).eps)), 1e-2)


def probabilities(fn: str, name: str, p, axis: int | None) -> jax.Array:
    """Return ``p`` as floats in [0, 1]; with ``axis``, also check that it sums to 1 along it."""
    p, values = _read(fn, name, p)
    if values is None:
        return p
    outside = (values < 0) | (values > 1)
    if outside.any():
        raise ValueError(f"{fn}: `{name}` must hold probabilities in [0, 1], {_shown(values, outside)}.")
    if axis is not None:
        tol = _tolerance(p.dtype)
        sums = values.sum(axis=axis)
        off = np.abs(sums - 1.0) > tol
        if off.any():
            index = tuple(int(i) for i in np.argwhere(off)[0])
            raise ValueError(
                f"{fn}: `{name}` must sum to 1 along axis {axis} (within {tol:.0e}), but the sum"
                f"{f' at index {list(index)}' if index else ''} is {sums[index].item()!r}; normalise it, "
                "e.g. with a softmax."
            )
    return p


def labels(fn: str, name: str, y, num_classes: int) -> jax.Array:
    """Return class labels as an integer array; raise if concrete labels are not in 0..K-1."""
    values = _values(y)
    if values is not None:
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            raise ValueError(f"{fn}: `{name}` must hold integer class labels, got dtype {values.dtype}.")
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values >= num_classes)
        if bad.any():
            raise ValueError(
                f"{fn}: `{name}` must hold integer class labels in 0..{num_classes - 1}, {_shown(values, bad)}."
            )
    with jax.ensure_compile_time_eval():
        y = jnp.asarray(y)
        return y if jnp.issubdtype(y.dtype, jnp.integer) else y.astype(jnp.int32)


def class_probabilities(fn: str, y, probs) -> tuple[jax.Array, jax.Array]:
    """Check predicted class probabilities against labels; return ``(labels, probs)``.

    ``probs`` is either ``(n,)``, the probability of class 1 in a binary problem (labels 0/1), or
    ``(n, K)``, one row of class probabilities per point summing to 1 (labels 0..K-1).
    """
    shape = jnp.shape(probs)
    if len(shape) not in (1, 2):
        raise ValueError(
            f"{fn}: `probs` must be (n,) (binary: the probability of class 1) or (n, K) (one row "
            f"of class probabilities per point), got shape {tuple(shape)}."
        )
    if len(shape) == 2 and shape[1] < 2:
        raise ValueError(f"{fn}: `probs` of shape (n, K) needs K >= 2 classes, got shape {tuple(shape)}.")
    if shape[0] == 0:
        raise ValueError(f"{fn}: `probs` is empty (shape {tuple(shape)}); a metric needs at least one point.")
    if jnp.shape(y) != shape[:1]:
        raise ValueError(
            f"{fn}: `y` must hold one label per row of `probs`, shape ({shape[0]},), got `y` "
            f"{tuple(jnp.shape(y))} and `probs` {tuple(shape)}."
        )
    probs = probabilities(fn, "probs", probs, axis=1 if len(shape) == 2 else None)
    y = labels(fn, "y", y, shape[1] if len(shape) == 2 else 2)
    return y, probs


def levels(fn: str, name: str, level) -> jax.Array:
    """Return ``level`` (a scalar or an array of levels) as floats strictly inside (0, 1)."""
    level, values = _read(fn, name, level)
    if values is not None:
        bad = ~((values > 0) & (values < 1))
        if bad.any():
            raise ValueError(
                f"{fn}: `{name}` is a probability mass and must lie strictly between 0 and 1, "
                f"{_shown(values, bad)}. For a 95% interval pass 0.95."
            )
    return level


def count(fn: str, name: str, k) -> int:
    """Return ``k`` as a Python int >= 1 (a static count, such as a number of bins)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"{fn}: `{name}` must be a positive integer, got {k!r}.")
    if k < 1:
        raise ValueError(f"{fn}: `{name}` must be at least 1, got {k}.")
    return int(k)
