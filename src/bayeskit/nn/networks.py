r"""Fully connected networks as plain pytrees of ``(weight, bias)`` pairs, with optional dropout.

The Bayesian deep learning estimators keep their weights as a tuple of ``(W, b)`` pairs with
``W`` of shape ``(fan_in, fan_out)``, so that a whole minibatch ``X (n, d)`` goes through as
``X @ W + b`` and a stack of networks (ensemble members, data splits) is the same pytree with a
leading axis, ready for ``jax.vmap``.

Dropout follows Gal & Ghahramani (2016): a Bernoulli mask on the *input of every layer* (the data
and each hidden layer), kept on at prediction, with inverted scaling ``1 / (1 - p)`` so that the
expected activation is unchanged.

Reference: Srivastava et al. (2014), "Dropout"; Gal & Ghahramani (2016), "Dropout as a Bayesian
approximation".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["dense_forward", "dropout", "init_dense", "weight_norm"]


def init_dense(key: jax.Array, sizes: tuple[int, ...], dtype=None) -> tuple[tuple[jax.Array, jax.Array], ...]:
    r"""Draw ``(W, b)`` pairs for layer sizes ``(d, h_1, ..., out)``, He-normal weights and zero biases.

    :math:`W_{ij} \sim \mathcal N(0, 2 / \text{fan-in})` keeps ReLU activations at a constant scale
    (He et al. 2015).

    Example:
        >>> layers = init_dense(jax.random.key(0), (3, 50, 2))
        >>> [w.shape for w, _ in layers]
        [(3, 50), (50, 2)]
    """
    dtype = jnp.zeros(()).dtype if dtype is None else dtype
    keys = jax.random.split(key, len(sizes) - 1)
    return tuple(
        (jax.random.normal(k, (n_in, n_out), dtype) * jnp.sqrt(2.0 / n_in), jnp.zeros((n_out,), dtype))
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    )


def dropout(key: jax.Array, x: jax.Array, rate) -> jax.Array:
    """Zero each entry with probability ``rate`` and scale the rest by ``1 / (1 - rate)``."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def dense_forward(
    layers,
    X: jax.Array,
    key: jax.Array | None = None,
    dropout_rate=None,
    activation=jax.nn.relu,
    drop_input: bool = True,
):
    """Map a batch ``X (n, d)`` through the layers; ReLU between layers, none after the last.

    With ``key`` and ``dropout_rate`` a fresh dropout mask is drawn for the input of every layer
    (one mask per row: each row is one stochastic pass); ``drop_input=False`` spares the data
    themselves (the first layer's input).
    """
    keys = jax.random.split(key, len(layers)) if key is not None else (None,) * len(layers)
    h = X
    for i, ((W, b), k) in enumerate(zip(layers, keys)):
        if k is not None and (drop_input or i > 0):
            h = dropout(k, h, dropout_rate)
        h = h @ W + b
        if i < len(layers) - 1:
            h = activation(h)
    return h


def dropout_weight_penalty(layers, decay, rate, drop_input: bool = True) -> jax.Array:
    r""":math:`\sum_l \frac{l^2(1-p_l)}{2N}\lVert W_l\rVert^2` given ``decay`` :math:`= l^2(1-p)/(2N)`.

    Gal & Ghahramani's weight decay per layer: :math:`p_l` is the dropout rate of the layer's input,
    ``rate`` for every layer, except 0 for the first when ``drop_input`` is False.
    """
    first = decay if drop_input else decay / (1.0 - rate)
    return first * jnp.sum(layers[0][0] ** 2) + decay * weight_norm(layers[1:])


def weight_norm(layers) -> jax.Array:
    r""":math:`\sum_l \lVert W_l \rVert_F^2` over the weight matrices (biases not included)."""
    return sum(jnp.sum(W**2) for W, _ in layers)
