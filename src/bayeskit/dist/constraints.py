"""Constraints: the support of a distribution and the domain of a parameter.

A constraint answers one question, ``check(x)``: is ``x`` inside the set? It also records how
many trailing dimensions form one element (``event_dim``) and whether the set is discrete.
:func:`bayeskit.dist.transforms.biject_to` maps each continuous constraint to a bijection from
unconstrained real vectors, which is how samplers and optimisers work on constrained sites.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = [
    "Constraint",
    "real",
    "real_vector",
    "positive",
    "nonnegative",
    "unit_interval",
    "interval",
    "greater_than",
    "simplex",
    "ordered",
    "positive_ordered",
    "lower_cholesky",
    "corr_cholesky",
    "positive_definite",
    "boolean",
    "nonnegative_integer",
    "integer_interval",
]


def _xp(x):
    """NumPy for host values (a one-off check then compiles nothing), jax.numpy for JAX arrays and tracers."""
    return np if isinstance(x, np.ndarray | np.generic | int | float | bool) else jnp


def _bound(xp, b):
    """A bound in the array library of the checked value (a JAX-array bound would stage a NumPy check)."""
    return np.asarray(b) if xp is np else b


class Constraint:
    """A set of values. Subclasses implement :meth:`check`.

    Attributes:
        event_dim: number of trailing dimensions that make up one element of the set.
        is_discrete: whether the set is countable (such sites cannot be sampled by gradients).
    """

    event_dim: int = 0
    is_discrete: bool = False

    def check(self, x):
        """Return a boolean array, of the batch shape, that is True where ``x`` is in the set."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_").lower()


class _Real(Constraint):
    def check(self, x):
        xp = _xp(x)
        return xp.isfinite(x)

    def __repr__(self) -> str:
        return "real"


class _RealVector(Constraint):
    event_dim = 1

    def check(self, x):
        xp = _xp(x)
        return xp.all(xp.isfinite(x), axis=-1)

    def __repr__(self) -> str:
        return "real_vector"


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, x):
        xp = _xp(x)
        return (x > _bound(xp, self.lower_bound)) & xp.isfinite(x)

    def __repr__(self) -> str:
        return f"greater_than({self.lower_bound})"


class _Positive(_GreaterThan):
    def __init__(self):
        super().__init__(0.0)

    def __repr__(self) -> str:
        return "positive"


class _Nonnegative(Constraint):
    def check(self, x):
        xp = _xp(x)
        return (x >= 0) & xp.isfinite(x)

    def __repr__(self) -> str:
        return "nonnegative"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, x):
        xp = _xp(x)
        return (x >= _bound(xp, self.lower_bound)) & (x <= _bound(xp, self.upper_bound))

    def __repr__(self) -> str:
        return f"interval({self.lower_bound}, {self.upper_bound})"


class _UnitInterval(_Interval):
    def __init__(self):
        super().__init__(0.0, 1.0)

    def __repr__(self) -> str:
        return "unit_interval"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, x):
        xp = _xp(x)
        return xp.all(x >= 0, axis=-1) & (xp.abs(xp.sum(x, axis=-1) - 1.0) < 1e-5)

    def __repr__(self) -> str:
        return "simplex"


class _Ordered(Constraint):
    event_dim = 1

    def check(self, x):
        xp = _xp(x)
        return xp.all(x[..., 1:] > x[..., :-1], axis=-1) & xp.all(xp.isfinite(x), axis=-1)

    def __repr__(self) -> str:
        return "ordered"


class _PositiveOrdered(_Ordered):
    def check(self, x):
        xp = _xp(x)
        return super().check(x) & xp.all(x > 0, axis=-1)

    def __repr__(self) -> str:
        return "positive_ordered"


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, x):
        xp = _xp(x)
        lower = xp.all(xp.triu(x, k=1) == 0, axis=(-2, -1))
        diag = xp.all(xp.diagonal(x, axis1=-2, axis2=-1) > 0, axis=-1)
        return lower & diag

    def __repr__(self) -> str:
        return "lower_cholesky"


class _CorrCholesky(_LowerCholesky):
    def check(self, x):
        xp = _xp(x)
        unit_rows = xp.all(xp.abs(xp.linalg.norm(x, axis=-1) - 1.0) < 1e-4, axis=-1)
        return super().check(x) & unit_rows

    def __repr__(self) -> str:
        return "corr_cholesky"


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, x):
        xp = _xp(x)
        symmetric = xp.all(xp.abs(x - xp.swapaxes(x, -1, -2)) < 1e-6 * (1 + xp.abs(x)), axis=(-2, -1))
        if xp is np and not np.all(np.isfinite(x)):  # NumPy's eigvalsh raises where JAX's gives NaN
            return symmetric & np.all(np.isfinite(x), axis=(-2, -1))
        return symmetric & xp.all(xp.linalg.eigvalsh(x) > 0, axis=-1)

    def __repr__(self) -> str:
        return "positive_definite"


class _Boolean(Constraint):
    is_discrete = True

    def check(self, x):
        return (x == 0) | (x == 1)

    def __repr__(self) -> str:
        return "boolean"


class _NonnegativeInteger(Constraint):
    is_discrete = True

    def check(self, x):
        xp = _xp(x)
        return (x >= 0) & (xp.floor(x) == x) & xp.isfinite(x)

    def __repr__(self) -> str:
        return "nonnegative_integer"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, x):
        xp = _xp(x)
        return (x >= _bound(xp, self.lower_bound)) & (x <= _bound(xp, self.upper_bound)) & (xp.floor(x) == x)

    def __repr__(self) -> str:
        return f"integer_interval({self.lower_bound}, {self.upper_bound})"


real = _Real()
real_vector = _RealVector()
positive = _Positive()
nonnegative = _Nonnegative()
unit_interval = _UnitInterval()
simplex = _Simplex()
ordered = _Ordered()
positive_ordered = _PositiveOrdered()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
positive_definite = _PositiveDefinite()
boolean = _Boolean()
nonnegative_integer = _NonnegativeInteger()


def interval(lower_bound, upper_bound) -> Constraint:
    """The closed interval ``[lower_bound, upper_bound]``."""
    return _Interval(lower_bound, upper_bound)


def greater_than(lower_bound) -> Constraint:
    """The open half-line ``(lower_bound, inf)``."""
    return _GreaterThan(lower_bound)


def integer_interval(lower_bound, upper_bound) -> Constraint:
    """The integers ``lower_bound, ..., upper_bound``."""
    return _IntegerInterval(lower_bound, upper_bound)
