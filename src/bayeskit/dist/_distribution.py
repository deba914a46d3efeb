"""The ``Distribution`` base class and the helpers every family shares."""

from __future__ import annotations

import dataclasses
import functools
import operator

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit.dist import constraints as C

__all__ = ["Distribution", "check_parameter", "as_float", "is_concrete", "ExpandedDistribution"]

Shape = tuple[int, ...]


def as_float(x) -> jax.Array:
    """Convert ``x`` to a floating array of JAX's default float dtype (keeps a wider float)."""
    if not isinstance(x, jax.Array):
        # NumPy data and Python numbers: converted on the host and transferred, since an eager
        # jnp.asarray compiles a small program for every new shape and dtype.
        given = x
        try:
            x = np.asarray(x)
            if not np.issubdtype(x.dtype, np.floating):
                x = x.astype(jnp.result_type(float))
        except (TypeError, ValueError):
            shown = repr(given) if np.size(given) <= 6 else f"an array of shape {np.shape(given)}"
            raise TypeError(f"expected a number or an array of numbers, got {shown}.") from None
        # Host data stay concrete inside a trace (a model traced to find its sites): checks of
        # supports that depend on them (a Binomial's counts <= total_count) can then run.
        with jax.ensure_compile_time_eval():
            return jax.device_put(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return x.astype(jnp.result_type(float))


def _as_count(n) -> int | None:
    """``n`` as a Python int if it is an integer (Python, NumPy or a concrete 0-d integer array),
    not a bool; else None."""
    if isinstance(n, bool | np.bool_) or getattr(n, "dtype", None) == np.bool_:
        return None
    try:
        return operator.index(n)
    except TypeError:  # floats, traced values, other objects
        return None


def check_sample_shape(sample_shape, where: str) -> Shape:
    """``sample_shape`` as a tuple of non-negative Python ints, or a ``TypeError``/``ValueError``.

    One integer (``5``, ``np.int64(5)``, ``jnp.array(5)``) is ``(5,)``.
    """
    one = _as_count(sample_shape)
    if one is not None:
        shape = [one]
    else:
        try:
            shape = [_as_count(n) for n in sample_shape]
        except TypeError:  # not iterable
            shape = [None]
    if None in shape or any(n < 0 for n in shape):
        raise (TypeError if None in shape else ValueError)(
            f"{where}: `sample_shape` must be a tuple of non-negative integers or one integer, "
            f"got {sample_shape!r}. For 100 draws pass 100 or (100,); for one draw pass ()."
        )
    return tuple(shape)


def check_event(dist: str, x: jax.Array, event_shape) -> None:
    """Raise ``ValueError`` naming ``dist`` if ``x``'s trailing dimensions are not ``event_shape``."""
    k = len(event_shape)
    if tuple(x.shape[x.ndim - k :] if k else ()) != tuple(event_shape) or x.ndim < k:
        raise ValueError(
            f"{dist}.log_prob: a value's last {k} dimension(s) must be the event shape "
            f"{tuple(event_shape)}, got a value of shape {tuple(x.shape)}."
        )


_NUMERIC_KINDS = frozenset("biuf")  # bool, signed and unsigned integers, floats


def check_value(x, where: str, name: str):
    """``x`` as something JAX arithmetic takes: arrays and numbers as given, a (nested) list or
    tuple of numbers as a NumPy array; anything else a ``TypeError`` naming ``where`` and ``name``."""
    if isinstance(x, jax.Array | int | float):  # tracers are jax.Arrays; bools are ints
        return x
    if isinstance(x, np.ndarray | np.generic) and x.dtype.kind in _NUMERIC_KINDS:
        return x
    try:
        arr = None if isinstance(x, str | bytes) else np.asarray(x)
    except (TypeError, ValueError):  # ragged nesting
        arr = None
    if arr is None or arr.dtype.kind not in _NUMERIC_KINDS:
        shown = repr(x) if len(repr(x)) <= 80 else f"a {type(x).__name__} that is not an array of numbers"
        raise TypeError(
            f"{where}: `{name}` must be a number or an array of numbers (a list, NumPy or JAX array), "
            f"got {shown}."
        )
    return arr


def is_concrete(x) -> bool:
    """True when ``x`` holds actual numbers (not a tracer inside ``jit``/``grad``/``vmap``)."""
    return not isinstance(x, jax.core.Tracer)


def check_parameter(dist: str, name: str, value, constraint: C.Constraint, hint: str = "") -> None:
    """Raise ``ValueError`` naming ``dist``'s parameter ``name`` if a concrete ``value`` is outside.

    Traced values are not checked: validation happens once, at construction from numbers.
    """
    if not is_concrete(value):
        return
    # On the host, in NumPy: a check of constants compiles nothing (JAX would compile each
    # elementwise operation for each new shape, tenths of a second per model built), and inside a
    # trace it stays a plain Python decision.
    ok = np.asarray(constraint.check(np.asarray(value)))
    if not ok.all():
        arr = np.asarray(value)
        shown = (
            arr
            if arr.size <= 6
            else f"an array of shape {arr.shape} (first bad entry at {np.argwhere(~ok)[0].tolist()})"
        )
        raise ValueError(
            f"{dist}: parameter `{name}` must be {constraint}, but got {shown}."
            + (f" {hint}" if hint else "")
        )


def _checking_value(f, where: str, name: str):
    @functools.wraps(f)
    def method(self, value):
        return f(self, check_value(value, where, name))

    method._checks_value = True
    return method


class Distribution(eqx.Module):
    """A probability distribution: an immutable module holding its parameters.

    Shapes follow the usual convention: a draw has shape
    ``sample_shape + batch_shape + event_shape``; ``log_prob(x)`` sums over the event dimensions
    and returns an array of the broadcast batch shape.

    Subclasses define ``batch_shape`` (and ``event_shape`` if not scalar), ``support``,
    ``log_prob`` and ``sample``; closed-form ``mean``, ``variance``, ``cdf``, ``icdf`` and
    ``entropy`` where they exist.
    """

    # Class-level facts, overridden by families. Not dataclass fields.
    is_discrete = False
    has_rsample = True  # samples are differentiable functions of the parameters

    def __init_subclass__(cls, **kwargs):
        """Wrap the family's own ``log_prob``, ``cdf`` and ``icdf`` so that each takes a list as
        an array, and names itself and its argument when given something that is not numbers
        (``None``, a string), where JAX's own message named neither."""
        super().__init_subclass__(**kwargs)
        for method, arg in (("log_prob", "x"), ("cdf", "x"), ("icdf", "q")):
            f = cls.__dict__.get(method)
            if f is not None and not hasattr(f, "_checks_value"):
                setattr(cls, method, _checking_value(f, f"{cls.__name__}.{method}", arg))

    def __check_init__(self):
        """Parameters whose shapes do not broadcast are an error here, at construction, naming
        the family and the shapes (they failed later in JAX, naming neither)."""
        try:
            self.batch_shape
        except ValueError as err:
            if "broadcast" not in str(err):
                raise
            shapes = {
                f.name: tuple(jnp.shape(getattr(self, f.name)))
                for f in dataclasses.fields(self)
                if hasattr(getattr(self, f.name, None), "shape")
            }
            raise ValueError(
                f"{type(self).__name__}: the parameters' shapes {shapes} do not broadcast together; give "
                "parameters of one shape, or shapes that broadcast (such as (3,) and ())."
            ) from None

    @property
    def batch_shape(self) -> Shape:
        raise NotImplementedError

    @property
    def event_shape(self) -> Shape:
        return ()

    @property
    def support(self) -> C.Constraint:
        raise NotImplementedError

    def log_prob(self, x) -> jax.Array:
        raise NotImplementedError

    def sample(self, key: jax.Array, sample_shape: int | Shape = ()) -> jax.Array:
        """Draw independent values: an array of shape ``sample_shape + batch_shape + event_shape``.

        Args:
            key: a JAX random key (``jax.random.key(seed)``; a legacy ``PRNGKey`` works too).
            sample_shape: how many draws, as a tuple of non-negative integers or one integer
                (``5`` is ``(5,)``); ``()`` (the default) is one draw.

        Example:
            >>> import jax
            >>> from bayeskit import dist
            >>> dist.Normal(0.0, 1.0).sample(jax.random.key(0), 3).shape
            (3,)
        """
        name = f"{type(self).__name__}.sample"
        return self._sample(check_key(key, name), check_sample_shape(sample_shape, name))

    def _sample(self, key: jax.Array, sample_shape: Shape) -> jax.Array:
        """The family's sampler; ``sample`` has checked ``key`` and made ``sample_shape`` a tuple."""
        raise NotImplementedError(f"{type(self).__name__} has no sampler.")

    def _missing(self, what: str):
        return NotImplementedError(f"{type(self).__name__} has no closed-form {what}.")

    @property
    def mean(self) -> jax.Array:
        raise self._missing("mean")

    @property
    def variance(self) -> jax.Array:
        raise self._missing("variance")

    @property
    def stddev(self) -> jax.Array:
        return jnp.sqrt(self.variance)

    def entropy(self) -> jax.Array:
        raise self._missing("entropy")

    def cdf(self, x) -> jax.Array:
        raise self._missing("cdf")

    def icdf(self, q) -> jax.Array:
        raise self._missing("icdf (quantile function)")

    def _extended_shape(self, sample_shape: Shape) -> Shape:
        return tuple(sample_shape) + tuple(self.batch_shape) + tuple(self.event_shape)

    def expand(self, batch_shape: Shape) -> Distribution:
        """Return this distribution broadcast to ``batch_shape`` (independent copies)."""
        batch_shape = tuple(batch_shape)
        if batch_shape == tuple(self.batch_shape):
            return self
        try:
            if jnp.broadcast_shapes(batch_shape, self.batch_shape) != batch_shape:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}: cannot expand batch shape {self.batch_shape} to "
                f"{batch_shape}; each dimension must be equal or 1 (right-aligned)."
            ) from None
        return ExpandedDistribution(self, batch_shape)

    def to_event(self, reinterpreted_batch_ndims: int | None = None) -> Distribution:
        """Treat the rightmost batch dimensions as event dimensions (``log_prob`` sums them)."""
        from bayeskit.dist._independent import Independent

        n = len(self.batch_shape) if reinterpreted_batch_ndims is None else reinterpreted_batch_ndims
        return self if n == 0 else Independent(self, n)

    def __repr__(self) -> str:
        fields = []
        for name in self.__dataclass_fields__:  # type: ignore[attr-defined]
            v = getattr(self, name)
            if v is None:  # an optional parameter not given (such as ``given_probs``)
                continue
            if isinstance(v, jax.Array) and is_concrete(v) and v.size == 1:
                fields.append(f"{name}={float(v.reshape(())):.4g}")
            elif isinstance(v, jax.Array):
                fields.append(f"{name}=<{v.dtype}{list(v.shape)}>")
            else:
                fields.append(f"{name}={v!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


class ExpandedDistribution(Distribution):
    """``base`` broadcast to a larger batch shape, with independent draws along new dimensions."""

    base: Distribution
    _batch_shape: Shape = eqx.field(static=True)

    def __init__(self, base: Distribution, batch_shape: Shape):
        self.base = base
        self._batch_shape = tuple(batch_shape)

    @property
    def batch_shape(self) -> Shape:
        return self._batch_shape

    @property
    def event_shape(self) -> Shape:
        return self.base.event_shape

    @property
    def support(self) -> C.Constraint:
        return self.base.support

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base.is_discrete

    def log_prob(self, x) -> jax.Array:
        lp = self.base.log_prob(x)
        return jnp.broadcast_to(lp, jnp.broadcast_shapes(lp.shape, self._batch_shape))

    def _sample(self, key: jax.Array, sample_shape: Shape) -> jax.Array:
        new, old = self._batch_shape, tuple(self.base.batch_shape)
        padded = (1,) * (len(new) - len(old)) + old
        expanded = [i for i, (n, o) in enumerate(zip(new, padded)) if o == 1 and n != 1]
        extra = tuple(new[i] for i in expanded)
        x = self.base.sample(key, sample_shape + extra)
        ns, ne, nb = len(sample_shape), len(extra), len(new)
        ev = len(self.base.event_shape)
        # x: sample + extra + old + event. Pad old to len(new), drop the size-1 axes that are
        # being expanded, then move each extra axis into the place of the axis it replaces.
        x = x.reshape(sample_shape + extra + padded + tuple(self.base.event_shape))
        x = jnp.squeeze(x, axis=tuple(ns + ne + i for i in expanded))
        perm = list(range(ns))
        rest = iter(range(ns + ne, ns + ne + nb - ne))
        extras = iter(range(ns, ns + ne))
        for i in range(nb):
            perm.append(next(extras) if i in expanded else next(rest))
        perm += list(range(ns + nb, ns + nb + ev))
        x = jnp.transpose(x, perm)
        return jnp.broadcast_to(x, sample_shape + new + tuple(self.base.event_shape))

    @property
    def mean(self) -> jax.Array:
        return jnp.broadcast_to(self.base.mean, self._batch_shape + tuple(self.event_shape))

    @property
    def variance(self) -> jax.Array:
        return jnp.broadcast_to(self.base.variance, self._batch_shape + tuple(self.event_shape))

    def entropy(self) -> jax.Array:
        return jnp.broadcast_to(self.base.entropy(), self._batch_shape)
