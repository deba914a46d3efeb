"""The ``Kernel`` base class, kernel algebra (``k1 + k2``, ``k1 * k2``, ``c * k``) and input checks.

Positive hyperparameters are stored as their logarithms (``log_lengthscale``, ...), so that
optimisers and samplers work on unconstrained values; users read and write the constrained ones
(``kernel.lengthscale``) and never see the logs unless they ask.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import as_float, is_concrete

__all__ = ["Kernel", "Sum", "Product", "as_inputs", "log_positive"]


def log_positive(owner: str, name: str, value) -> jax.Array:
    """Return ``log(value)`` after checking a concrete ``value`` is positive and finite.

    Raises:
        ValueError: naming ``owner``'s hyperparameter ``name`` when a concrete entry is <= 0,
            NaN or infinite.
    """
    try:
        value = as_float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner}: hyperparameter `{name}` must be a positive number or an array of them, "
            f"got {value!r} ({type(value).__name__})."
        ) from None
    if is_concrete(value):
        with jax.ensure_compile_time_eval():
            arr = np.asarray(value)
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            shown = arr.tolist() if arr.size <= 6 else f"an array of shape {arr.shape}"
            raise ValueError(
                f"{owner}: hyperparameter `{name}` must be positive and finite, got {shown}. "
                f"Pass a value > 0 (it is learned on the log scale)."
            )
        # NumPy and a plain transfer, not jnp: jnp.log (and even jnp.asarray of a NumPy array)
        # compiles a program per new shape (a user building a model pays tenths of a second for
        # nothing).
        return jax.device_put(np.log(arr).astype(value.dtype))
    return jnp.log(value)


def exp_positive(log_value) -> jax.Array:
    """``exp(log_value)``: a hyperparameter read from its log, with no compile when concrete.

    Reading a fitted model's ``lengthscale`` eagerly with ``jnp.exp`` compiled a program per shape
    (40-80 ms on a CPU); inside a trace it is ``jnp.exp``.
    """
    if isinstance(log_value, jax.core.Tracer):
        return jnp.exp(log_value)
    return jax.device_put(np.exp(np.asarray(log_value)))


def as_numbers(x, name: str, owner: str) -> jax.Array:
    """``x`` as a float array (:func:`as_float`); what does not convert is named as ``owner``'s ``name``."""
    try:
        return as_float(x)
    except TypeError:
        try:
            shown = f"an array of dtype {np.asarray(x).dtype} and shape {np.shape(x)}"
        except Exception:  # ragged lists and other objects NumPy cannot hold
            shown = f"a {type(x).__name__}"
        raise TypeError(
            f"{owner}: `{name}` must hold numbers (int, float or bool), got {shown}. Encode "
            "categorical columns as numbers first."
        ) from None


def as_inputs(X, name: str = "X", owner: str = "kernel") -> jax.Array:
    """Return ``X`` as a 2-D float array ``(n, d)``; a 1-D array is one input column."""
    X = as_numbers(X, name, owner)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"{owner}: `{name}` must be a 2-D array (num_points, num_features) or a 1-D array of "
            f"scalar inputs, got shape {tuple(X.shape)}."
        )
    return X


class Kernel(eqx.Module):
    """A covariance function k(x, x') on rows of an input matrix.

    Call it as ``kernel(X1, X2)`` for the cross-covariance matrix ``(n1, n2)`` or ``kernel(X)``
    for the covariance of ``X`` with itself (which includes a ``White`` term's noise); ``diag(X)``
    gives the variances alone, in O(n). Kernels combine: ``k1 + k2``, ``k1 * k2``, ``c * k`` (a
    positive constant ``c`` becomes a learnable ``Constant`` factor) and ``k + c`` (a learnable
    ``Constant`` term; ``k + 0`` is ``k``, so ``sum(kernels)`` works).

    Subclasses implement ``_matrix(X1, X2, same)`` and ``_diag(X)`` on checked 2-D inputs and may
    declare ``num_features`` (the ARD length) for the input-dimension check.
    """

    @property
    def num_features(self) -> int | None:
        """Number of input columns this kernel requires (ARD), or None when any number works."""
        return None

    def _check(self, X, name: str) -> jax.Array:
        X = as_inputs(X, name, type(self).__name__)
        d = self.num_features
        if d is not None and X.shape[1] != d:
            raise ValueError(
                f"{self!r}: `{name}` has {X.shape[1]} column(s) but the kernel has {d} ARD "
                f"lengthscales; give one lengthscale per input column (or a scalar lengthscale)."
            )
        return X

    def __call__(self, X1, X2=None) -> jax.Array:
        X1 = self._check(X1, "X1")
        if X2 is None:
            return self._matrix(X1, X1, True)
        X2 = self._check(X2, "X2")
        if X1.shape[1] != X2.shape[1]:
            raise ValueError(
                f"{type(self).__name__}: `X1` has {X1.shape[1]} columns but `X2` has {X2.shape[1]}."
            )
        return self._matrix(X1, X2, False)

    def diag(self, X) -> jax.Array:
        """The variances k(x_i, x_i) of the rows of ``X`` (including white noise)."""
        return self._diag(self._check(X, "X"))

    def _matrix(self, X1, X2, same: bool) -> jax.Array:
        raise NotImplementedError

    def _gram(self, X) -> jax.Array:
        """``_matrix(X, X, True)`` for reverse-mode gradients only, as cheap as the kernel allows.

        Stationary kernels give it a hand-written VJP (one pass over n^2 numbers and one thin
        matrix product, instead of autodiff's dozen passes); it then supports ``grad`` but not
        forward-mode differentiation, so use it only where a custom-VJP consumer (the GP log
        marginal likelihood) already rules forward mode out.
        """
        return self._matrix(X, X, True)

    def _diag(self, X) -> jax.Array:
        raise NotImplementedError

    def __add__(self, other) -> Kernel:
        if isinstance(other, Kernel):
            return Sum(self, other)
        if isinstance(other, int | float | np.number | np.ndarray | jax.Array):
            scalar = self._scalar(other, "added to")
            if is_concrete(scalar) and float(scalar) == 0:  # k + 0 is k (and sum([k1, k2]) works)
                return self
            from bayeskit.gp.kernels.constant import Constant

            return Sum(self, Constant(scalar))  # k + c: a learnable constant offset, as in scikit-learn
        return NotImplemented

    __radd__ = __add__

    def _scalar(self, other, verb: str):
        if jnp.ndim(other) != 0:
            raise TypeError(
                f"{type(self).__name__}: a kernel can be {verb} a kernel or {verb.split()[-1]} a positive scalar, got an "
                f"array of shape {tuple(jnp.shape(other))}."
            )
        return other

    # NumPy defers to the kernel's operators (``np.array(2.0) * k``) instead of broadcasting the
    # kernel into an object array.
    __array_ufunc__ = None

    def __mul__(self, other) -> Kernel:
        if isinstance(other, Kernel):
            return Product(self, other)
        if isinstance(other, int | float | np.number | np.ndarray | jax.Array):
            from bayeskit.gp.kernels.constant import Constant

            return Product(Constant(self._scalar(other, "multiplied by")), self)
        return NotImplemented

    __rmul__ = __mul__

    def _params_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._params_repr()})"


def _fmt(x) -> str:
    arr = np.asarray(x)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return "[" + ", ".join(f"{v:.4g}" for v in arr.ravel()[:8]) + (", ..." if arr.size > 8 else "") + "]"


def params_repr(**values) -> str:
    """``name=value, ...`` for a kernel's constrained hyperparameters (tracers shown as such)."""
    parts = []
    for k, v in values.items():
        parts.append(f"{k}={_fmt(v) if is_concrete(v) else '<traced>'}")
    return ", ".join(parts)


def _common_features(a: Kernel, b: Kernel) -> int | None:
    da, db = a.num_features, b.num_features
    if da is not None and db is not None and da != db:
        raise ValueError(f"Cannot combine {a!r} ({da} input columns) with {b!r} ({db} input columns).")
    return da if da is not None else db


class Sum(Kernel):
    """``k1 + k2``: the covariance of the sum of two independent processes."""

    k1: Kernel
    k2: Kernel

    def __check_init__(self):
        _common_features(self.k1, self.k2)

    @property
    def num_features(self):
        return _common_features(self.k1, self.k2)

    def _matrix(self, X1, X2, same):
        return self.k1._matrix(X1, X2, same) + self.k2._matrix(X1, X2, same)

    def _gram(self, X):
        return self.k1._gram(X) + self.k2._gram(X)

    def _diag(self, X):
        return self.k1._diag(X) + self.k2._diag(X)

    def __repr__(self):
        return f"{self.k1!r} + {self.k2!r}"


class Product(Kernel):
    """``k1 * k2``: the covariance of the product of two independent processes."""

    k1: Kernel
    k2: Kernel

    def __check_init__(self):
        _common_features(self.k1, self.k2)

    @property
    def num_features(self):
        return _common_features(self.k1, self.k2)

    def _matrix(self, X1, X2, same):
        return self.k1._matrix(X1, X2, same) * self.k2._matrix(X1, X2, same)

    def _gram(self, X):
        return self.k1._gram(X) * self.k2._gram(X)

    def _diag(self, X):
        return self.k1._diag(X) * self.k2._diag(X)

    def __repr__(self):
        def wrap(k):
            return f"({k!r})" if isinstance(k, Sum) else repr(k)

        return f"{wrap(self.k1)} * {wrap(self.k2)}"
