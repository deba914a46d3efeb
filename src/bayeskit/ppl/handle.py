"""The handle ``m`` that a model receives: sample, plate, deterministic, factor, param.

A model is a plain Python function whose first argument is a :class:`Handle`. The handle
records every site into its trace and gives each statement its meaning for the interpretation at
hand: draw from the prior, substitute given (constrained) values, read values off one flat
unconstrained vector (adding the log-Jacobian of the transform), or score observed data. A new
handle is made for every run of the model, so there is no global state.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import non_numeric
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, is_concrete

__all__ = ["Handle", "Plate", "Site"]


@dataclasses.dataclass
class Site:
    """One statement of a model, as recorded in a trace.

    Attributes:
        name: the site name.
        kind: ``"sample"``, ``"deterministic"``, ``"factor"`` or ``"param"``.
        value: the (constrained) value of the site in this run.
        distribution: the distribution of a sample site, already broadcast over its plates.
        is_observed: whether a sample site was given ``obs``.
        log_prob: the site's log density summed over all its dimensions, times ``scale``.
        scale: the likelihood scale from subsampled plates (``size / subsample_size``).
        plates: names of the enclosing plates, outermost first.
    """

    name: str
    kind: str
    value: Any
    distribution: Distribution | None = None
    is_observed: bool = False
    log_prob: Any = 0.0
    scale: float = 1.0
    plates: tuple[str, ...] = ()
    constraint: C.Constraint | None = None


@dataclasses.dataclass(frozen=True)
class Plate:
    """A plate: ``size`` conditionally independent copies along batch dimension ``dim``."""

    name: str
    size: int
    subsample_size: int
    dim: int
    indices: Any

    @property
    def scale(self) -> float:
        return self.size / self.subsample_size


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a latent site lives in the flat unconstrained vector."""

    offset: int
    unconstrained_shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.unconstrained_shape, dtype=int))


def _site_key(key, name: str):
    # Folding in a stable hash of the name makes each site's draw independent of site order.
    return jax.random.fold_in(key, zlib.crc32(name.encode()))


def _fmt_shape(shape) -> str:
    return "()" if len(shape) == 0 else str(tuple(int(s) for s in shape))


class Handle:
    """The object passed to a model as ``m``; one per run of the model.

    Users never build one: interpreters (:func:`bayeskit.ppl.trace`,
    :func:`bayeskit.ppl.sample_prior`, :func:`bayeskit.ppl.target`, ...) do.
    """

    def __init__(
        self,
        *,
        key: jax.Array | None = None,
        values: dict[str, Any] | None = None,
        z: jax.Array | None = None,
        layout: dict[str, Layout] | None = None,
        params: dict[str, Any] | None = None,
        subsample: dict[str, Any] | None = None,
        full_data: bool = False,
        model_name: str = "model",
        check_values: bool = False,
    ):
        self._key = key
        self._check_values = check_values
        self._values = dict(values or {})
        self._z = z
        self._layout = layout or {}
        self._params = dict(params or {})
        self._subsample = dict(subsample or {})
        self._full_data = full_data
        self._plates: list[Plate] = []
        self.model_name = model_name
        self.trace: dict[str, Site] = {}
        self.log_jacobian = 0.0
        # Params whose value this run drew with a random initialiser (``init(key)``).
        self.randomly_initialised: list[str] = []

    # ------------------------------------------------------------------ helpers
    def _new_site(self, name: str, kind: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.model_name}: a site name must be a non-empty string, got {name!r}.")
        if name in self.trace:
            raise ValueError(
                f"{self.model_name}: site name `{name}` is used twice (first as a "
                f"{self.trace[name].kind} site). Every sample, deterministic, factor and param "
                f'needs its own name; inside a Python loop, add the index, e.g. f"{name}_{{i}}".'
            )
        if any(p.name == name for p in self._plates):
            raise ValueError(f"{self.model_name}: site `{name}` has the same name as an enclosing plate.")

    def _plate_shape(self, name: str, batch_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Broadcast a site's batch shape with the enclosing plates, with errors naming both."""
        if not self._plates:
            return tuple(batch_shape)
        ndim = max(len(batch_shape), max(-p.dim for p in self._plates))
        shape = [1] * (ndim - len(batch_shape)) + list(batch_shape)
        for p in self._plates:
            current = shape[ndim + p.dim]
            if current not in (1, p.subsample_size):
                raise ValueError(
                    f"{self.model_name}: site `{name}` has batch shape {_fmt_shape(batch_shape)}, "
                    f"but plate `{p.name}` puts {p.subsample_size} copies along dim {p.dim}, where "
                    f"the site has size {current}. Make the parameters' size along that dimension "
                    f"{p.subsample_size} (or 1 to broadcast), or move the site out of the plate."
                )
            shape[ndim + p.dim] = p.subsample_size
        return tuple(shape)

    def _check_finite_obs(self, name: str, obs) -> None:
        bad = ~np.isfinite(np.asarray(obs))
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise ValueError(
                f"{self.model_name}: observed value of site `{name}` contains "
                f"{int(bad.sum())} NaN or infinite entries (first at index {where}). Remove or "
                "impute the missing data before conditioning; the model cannot score NaN."
            )

    def _check_discrete_obs(self, name: str, d: Distribution, host: np.ndarray) -> None:
        """Data outside a discrete distribution's support (a label 2 or -1 under a Bernoulli, a
        count of 1.5 under a Poisson) has log density -inf: say so here, naming the site.

        Only discrete supports are checked: they are exact sets, where a continuous support's
        boundary (0 under an Exponential) may still have a finite density. A support whose
        bounds depend on latent values (traced) is left to the density.
        """
        try:
            inside = np.asarray(d.support.check(host))
        except Exception:  # bounds that are not concrete here
            return
        if inside.dtype != np.bool_ or inside.all():
            return
        family = d
        while hasattr(family, "base") and isinstance(family.base, Distribution):  # expanded, to_event
            family = family.base
        where = np.argwhere(~inside)[0].tolist()
        index = tuple(where) + (slice(None),) * (host.ndim - len(where))
        hint = {
            "boolean": " Bernoulli data are 0 and 1 (for labels -1/+1 pass `y > 0`).",
            "nonnegative_integer": " Count data are whole numbers >= 0.",
        }.get(str(d.support), "")
        if not hint and hasattr(family, "total_count"):
            hint = (
                f" {type(family).__name__} data are whole-number counts"
                f"{' summing to' if d.event_shape else ' from 0 to'} total_count."
            )
        raise ValueError(
            f"{self.model_name}: observed value of site `{name}` is outside the support of its "
            f"{type(family).__name__} distribution ({d.support}): {int((~inside).sum())} entr"
            f"{'y' if (~inside).sum() == 1 else 'ies'}, the first {np.asarray(host[index]).tolist()}"
            f"{f' at index {where}' if where else ''}, "
            f"where the log density is -inf.{hint}"
        )

    def _check_obs(self, name: str, d: Distribution, obs) -> tuple[jax.Array, Distribution]:
        if not isinstance(obs, jax.Array):  # NumPy data, lists, scalars: checked on the host
            if (what := non_numeric(obs)) is not None:
                raise TypeError(
                    f"{self.model_name}: observed value of site `{name}` must be numbers (or "
                    f"booleans), got {what}; encode categories as integers first."
                )
            host = np.asarray(obs)
            if np.issubdtype(host.dtype, np.inexact):
                self._check_finite_obs(name, host)
        else:
            host = obs if is_concrete(obs) else None  # copied to the host only if checked below
        obs = jnp.asarray(obs)  # may be traced from here on (inside jit, as a constant)
        event = tuple(d.event_shape)
        expected = tuple(d.batch_shape) + event
        try:
            full = jnp.broadcast_shapes(obs.shape, expected)
        except ValueError:
            full = None
        if full != obs.shape or obs.shape[obs.ndim - len(event) :] != event:
            raise ValueError(
                f"{self.model_name}: observed value of site `{name}` has shape {_fmt_shape(obs.shape)}, "
                f"but its distribution ({type(d).__name__}) inside plates "
                f"{[p.name for p in self._plates] or 'none'} has shape {_fmt_shape(expected)} "
                f"(batch {_fmt_shape(d.batch_shape)}, event {_fmt_shape(event)}). Pass data of "
                f"shape {_fmt_shape(expected)}, or give the distribution parameters that broadcast to "
                "the data's shape."
            )
        if is_concrete(obs) and jnp.issubdtype(obs.dtype, jnp.inexact):
            self._check_finite_obs(name, obs)
        if host is not None and d.is_discrete:
            self._check_discrete_obs(name, d, np.asarray(host))
        batch = obs.shape[: obs.ndim - len(event)]
        if batch != tuple(d.batch_shape):
            d = d.expand(batch)
        return obs, d

    def _scale(self) -> float:
        s = 1.0
        for p in self._plates:
            s *= p.scale
        return s

    # ------------------------------------------------------------------ the model language
    def sample(self, name: str, d: Distribution, obs=None):
        """Declare a random variable ``name ~ d``; observed when ``obs`` is given.

        Returns the site's value: ``obs`` if observed, otherwise the value this interpretation
        assigns (a prior draw, a substituted value, or a value read off the unconstrained vector).
        """
        self._new_site(name, "sample")
        if not isinstance(d, Distribution):
            raise TypeError(
                f"{self.model_name}: site `{name}` needs a bayeskit.dist distribution, got "
                f"{type(d).__name__}. For a fixed value use m.deterministic; for a log weight, m.factor."
            )
        batch = self._plate_shape(name, tuple(d.batch_shape))
        if batch != tuple(d.batch_shape):
            d = d.expand(batch)
        plates = tuple(p.name for p in self._plates)
        if obs is not None:
            value, d = self._check_obs(name, d, obs)
            is_observed = True
        else:
            is_observed = False
            if name in self._values:
                value = jnp.asarray(self._values[name])
                if self._check_values:
                    self._check_given(name, d, value)
            elif name in self._layout:
                value = self._read_unconstrained(name, d)
            elif self._key is not None:
                value = d.sample(_site_key(self._key, name))
            else:
                raise ValueError(
                    f"{self.model_name}: no value for latent site `{name}`: it was not observed, not "
                    "given among the values, and no key was passed to draw it."
                )
        scale = self._scale()
        lp = jnp.sum(d.log_prob(value))
        if scale != 1.0:
            lp = lp * scale
        self.trace[name] = Site(name, "sample", value, d, is_observed, lp, scale, plates, d.support)
        return value

    def _check_given(self, name: str, d: Distribution, value) -> None:
        """A given value must have the site's shape and lie in its support (concrete values only)."""
        shape = tuple(d.batch_shape) + tuple(d.event_shape)
        if tuple(value.shape) != shape:
            raise ValueError(
                f"{self.model_name}: the value given for site `{name}` has shape {tuple(value.shape)}, "
                f"but the site has shape {shape}. Give a value of shape {shape}."
            )
        if isinstance(value, jax.core.Tracer):
            return
        inside = np.asarray(d.support.check(value))
        if not inside.all():
            outside = np.asarray(value)[~inside] if inside.shape == value.shape else np.asarray(value)
            raise ValueError(
                f"{self.model_name}: the value given for site `{name}` is outside the site's support "
                f"({d.support!r}): {np.array2string(np.ravel(outside)[:5], precision=4)}"
                f"{' ...' if np.size(outside) > 5 else ''}. Give a value inside the support."
            )

    def _read_unconstrained(self, name: str, d: Distribution):
        from bayeskit.dist.transforms import biject_to

        lay = self._layout[name]
        u = self._z[lay.offset : lay.offset + lay.size].reshape(lay.unconstrained_shape)
        t = biject_to(d.support)
        value = t(u)
        self.log_jacobian = self.log_jacobian + jnp.sum(t.log_abs_det_jacobian(u))
        return value

    def _numbers(self, name: str, kind: str, argument: str, value):
        """``value`` if it holds numbers (or booleans); else a ``TypeError`` naming the site."""
        if (what := non_numeric(value)) is not None:
            raise TypeError(
                f"{self.model_name}: the `{argument}` of {kind} site `{name}` must be numbers (or "
                f"booleans), got {what}."
            )
        return value

    def deterministic(self, name: str, value):
        """Record ``value`` under ``name`` (kept in traces and posterior draws); return it."""
        self._new_site(name, "deterministic")
        value = jnp.asarray(self._numbers(name, "deterministic", "value", value))
        self.trace[name] = Site(name, "deterministic", value, plates=tuple(p.name for p in self._plates))
        return value

    def factor(self, name: str, log_weight):
        """Add ``log_weight`` (summed) to the model's log density, e.g. a marginalised likelihood."""
        self._new_site(name, "factor")
        lw = jnp.sum(jnp.asarray(self._numbers(name, "factor", "log_weight", log_weight))) * self._scale()
        self.trace[name] = Site(name, "factor", lw, log_prob=lw, plates=tuple(p.name for p in self._plates))
        return lw

    def param(self, name: str, init=None, constraint: C.Constraint = C.real):
        """Declare a parameter: a value optimised (in SVI guides) rather than integrated over.

        A value given in ``params`` (of :func:`~bayeskit.ppl.target`, :func:`~bayeskit.ppl.trace`,
        ...) takes precedence over ``init``.

        Args:
            name: the site name.
            init: the initial value, or a function ``key -> value`` drawn with the interpreter's
                key (a guide's, by :func:`bayeskit.vi.custom_guide`). A model conditioned with
                :func:`~bayeskit.ppl.target` has no key (its log density is a fixed function), so
                there a random initialiser is refused at ``target``: give the value in ``params``.
            constraint: the set the value lives in (e.g. ``constraints.positive``).
        """
        self._new_site(name, "param")
        if name in self._params:
            value = jnp.asarray(self._params[name])
        elif init is None:
            raise ValueError(f"{self.model_name}: param `{name}` has no value and no `init`.")
        elif callable(init):
            if self._key is None:
                raise ValueError(
                    f"{self.model_name}: param `{name}` has a random initialiser but no key was given;"
                    " pass its value explicitly (params={...})."
                )
            value = jnp.asarray(init(_site_key(self._key, "param:" + name)))
            self.randomly_initialised.append(name)
        else:
            value = jnp.asarray(init, dtype=jnp.result_type(float))
        self.trace[name] = Site(name, "param", value, constraint=constraint)
        return value

    @contextmanager
    def plate(
        self, name: str, size: int, subsample_size: int | None = None, dim: int | None = None
    ) -> Iterator:
        """Declare ``size`` conditionally independent copies of the sites inside the block.

        Sites inside are broadcast along batch dimension ``dim`` (by default the rightmost one
        not used by an enclosing plate). With ``subsample_size``, only a random subset of indices
        is used and each site's log density is scaled by ``size / subsample_size``, the unbiased
        minibatch estimate. The ``with`` block yields the indices in use.
        """
        if not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(
                f"{self.model_name}: plate `{name}` needs a positive integer size, got {size!r}."
            )
        size = int(size)
        sub = size if subsample_size is None else int(subsample_size)
        if not 1 <= sub <= size:
            raise ValueError(
                f"{self.model_name}: plate `{name}` has subsample_size={subsample_size}; it must be "
                f"between 1 and the plate size {size}."
            )
        if dim is None:
            used = {p.dim for p in self._plates}
            dim = -1
            while dim in used:
                dim -= 1
        elif dim >= 0 or any(p.dim == dim for p in self._plates):
            raise ValueError(
                f"{self.model_name}: plate `{name}` needs a negative dim not used by an enclosing plate."
            )
        if any(p.name == name for p in self._plates) or name in self.trace:
            raise ValueError(f"{self.model_name}: plate name `{name}` is already in use.")
        if name in self._subsample:
            indices = jnp.asarray(self._subsample[name])
            sub = int(indices.shape[0])
        elif sub < size and self._key is not None and not self._full_data:
            indices = jax.random.choice(_site_key(self._key, "plate:" + name), size, (sub,), replace=False)
        else:
            # Without a key or given indices (e.g. a full-data log density) use all the data.
            # NumPy indices, so that NumPy data can be indexed by them inside a traced model.
            indices, sub = np.arange(size), size
        p = Plate(name, size, sub, dim, indices)
        self._plates.append(p)
        try:
            yield indices
        finally:
            self._plates.pop()


def run_model(model: Callable, handle: Handle, args: tuple, kwargs: dict):
    """Run ``model(handle, *args, **kwargs)`` and return its return value."""
    return model(handle, *args, **kwargs)
