"""A multilayer perceptron with hidden layers of any widths, as an immutable equinox module."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import check_int
from bayeskit._key import check_key

__all__ = ["MLP"]


def check_widths(owner: str, name: str, widths) -> tuple[int, ...]:
    """``widths`` as a tuple of positive ints, or a ValueError naming ``name``."""
    try:
        widths = tuple(widths)
    except TypeError:
        raise ValueError(f"{owner}: `{name}` must be a sequence of layer widths, got {widths!r}.") from None
    bad = [w for w in widths if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1]
    if bad:
        raise ValueError(f"{owner}: `{name}` must hold positive integer widths, got {widths!r}.")
    return tuple(int(w) for w in widths)


def check_size(owner: str, name: str, value) -> int:
    """``value`` as a positive int, or a ValueError naming ``name``."""
    return check_int(owner, name, value)


@functools.partial(jax.jit, static_argnames=("widths", "dtype"))
def _initial_layers(key, widths: tuple[int, ...], dtype):
    # One compiled program and one random draw for the whole network: each separate draw would
    # add a random-bit generator to compile, which dominates the cost of building a small net.
    shapes = [((n_out, n_in), (n_out,)) for n_in, n_out in zip(widths[:-1], widths[1:])]
    total = sum(n_out * n_in + n_out for (n_out, n_in), _ in shapes)
    u = jax.random.uniform(key, (total,), dtype, -1.0, 1.0)
    layers, start = [], 0
    for (n_out, n_in), _ in shapes:
        bound = 1.0 / math.sqrt(n_in)
        weight = u[start : start + n_out * n_in].reshape(n_out, n_in) * bound
        start += n_out * n_in
        bias = u[start : start + n_out] * bound
        start += n_out
        layers.append((weight, bias))
    return tuple(layers)


class MLP(eqx.Module):
    r"""A fully connected network: affine maps with an activation between them, none after the last.

    .. math:: f(x) = W_L\, a(\dots a(W_2\, a(W_1 x + b_1) + b_2) \dots) + b_L

    ``eqx.nn.MLP`` gives every hidden layer the same width; this one takes any widths (e.g. a
    funnel ``(256, 128)``). Weights and biases start uniform in :math:`\pm 1/\sqrt{\text{fan-in}}`
    (as ``eqx.nn.Linear`` and PyTorch's ``nn.Linear`` do). The call maps one input vector
    ``(in_size,)`` to ``(out_size,)``; use ``jax.vmap`` for a batch.

    Args:
        key: a ``jax.random`` key for the initial weights.
        in_size: length of the input vector.
        out_size: length of the output vector.
        hidden: widths of the hidden layers, first to last (``()`` gives one affine map).
        activation: the elementwise nonlinearity between layers (a hashable function).
        dtype: the parameters' floating dtype (default: JAX's default float).

    Attributes:
        layers: one ``(weight, bias)`` pair per affine map, weight of shape ``(out, in)``.

    Example:
        >>> net = MLP(jax.random.key(0), 3, 2, hidden=(16, 8))
        >>> net(jnp.ones(3)).shape
        (2,)
    """

    layers: tuple[tuple[jax.Array, jax.Array], ...]
    activation: Callable = eqx.field(static=True)

    def __init__(
        self,
        key: jax.Array,
        in_size: int,
        out_size: int,
        hidden: Sequence[int] = (),
        activation: Callable = jax.nn.relu,
        dtype=None,
    ):
        in_size = check_size("MLP", "in_size", in_size)
        out_size = check_size("MLP", "out_size", out_size)
        widths = (in_size, *check_widths("MLP", "hidden", hidden), out_size)
        if not callable(activation):
            raise ValueError(f"MLP: `activation` must be a function, got {activation!r}.")
        dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
        self.layers = _initial_layers(check_key(key, "MLP"), widths, dtype)
        self.activation = activation

    @property
    def in_size(self) -> int:
        return self.layers[0][0].shape[1]

    @property
    def out_size(self) -> int:
        return self.layers[-1][0].shape[0]

    @property
    def dtype(self):
        return self.layers[0][0].dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        for weight, bias in self.layers[:-1]:
            x = self.activation(weight @ x + bias)
        weight, bias = self.layers[-1]
        return weight @ x + bias
