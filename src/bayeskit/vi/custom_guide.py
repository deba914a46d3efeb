r"""Custom guides: a variational family written in the model language.

A guide function declares its variational parameters with ``m.param(name, init, constraint)`` and
draws every latent site of the model, under the model's site names, with ``m.sample``:

.. code-block:: python

    def guide(m):
        loc = m.param("mu_loc", 0.0)
        scale = m.param("mu_scale", 0.1, constraints.positive)
        m.sample("mu", dist.Normal(loc, scale))
        m.sample("sigma", dist.LogNormal(m.param("sigma_loc", 0.0), m.param("sigma_scale", 0.1,
                                                                            constraints.positive)))

The guide may take the model's arguments too (``guide(m, x, y=None)``): then it is called with
them, so it can use the data's size for local latent variables in plates. A plate with
``subsample_size`` in both model and guide draws the same minibatch in both, because both run with
the same key and a plate's indices depend only on the key and the plate's name.

:class:`CustomGuide` stores the parameters unconstrained (``biject_to(constraint).inverse``), so
optimisers move them freely and the guide sees constrained values. Before fitting,
:func:`custom_guide` checks the guide against the model: every latent site is drawn, nothing
else is, shapes agree, and each guide site's support is the model site's support.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution
from bayeskit.dist.transforms import biject_to
from bayeskit.ppl.handle import Handle, Site
from bayeskit.ppl.interpreters import model_name
from bayeskit.vi._program import Program
from bayeskit.vi._program import program as make_program

__all__ = ["CustomGuide", "custom_guide", "check_guide"]


class CustomGuide(eqx.Module):
    """A guide function and its variational parameters (stored unconstrained).

    Attributes:
        fn: the guide function, ``fn(m)`` or ``fn(m, *args, **kwargs)`` with the model's arguments.
        params: ``{name: unconstrained value}``: what optimisers update.
        constraints: ``((name, constraint), ...)``: each parameter's constraint.
        takes_model_args: whether ``fn`` is called with the model's arguments.

    Use :func:`custom_guide` (or :func:`bayeskit.vi.fit` with ``guide=fn``) to build one.
    """

    fn: Callable = eqx.field(static=True)
    params: dict
    constraints: tuple = eqx.field(static=True)
    takes_model_args: bool = eqx.field(static=True)

    @property
    def name(self) -> str:
        return model_name(self.fn)

    def constrained_params(self) -> dict[str, jax.Array]:
        """``{name: value}`` of every parameter on its constrained scale (what ``fn`` sees)."""
        return {n: biject_to(c)(self.params[n]) for n, c in self.constraints}

    def run(self, program: Program, *, key=None, values=None, full_data: bool = True) -> dict[str, Site]:
        """Run the guide once (drawing with ``key``, or at ``values``) and return its trace."""
        h = Handle(
            key=key,
            values=values,
            params=self.constrained_params(),
            full_data=full_data,
            model_name=f"guide `{self.name}`",
        )
        if self.takes_model_args:
            self.fn(h, *program.args, **program.kwargs)
        else:
            self.fn(h)
        return h.trace


def _takes_model_args(fn: Callable, program: Program) -> bool:
    """Whether ``fn`` is to be called with the model's arguments (it binds them) or alone."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return bool(program.args or program.kwargs)
    if program.args or program.kwargs:
        try:
            sig.bind(None, *program.args, **program.kwargs)
            return True
        except TypeError:
            pass
    try:
        sig.bind(None)
        return False
    except TypeError:
        raise TypeError(
            f"guide `{model_name(fn)}{sig}` takes neither only the handle `m` nor the model's "
            f"arguments; write it as guide(m) or with the same arguments as model `{program.name}`."
        ) from None


def _same_bounds(a: C.Constraint, b: C.Constraint) -> bool:
    for attr in ("lower_bound", "upper_bound"):
        if hasattr(a, attr) != hasattr(b, attr):
            return False
        if hasattr(a, attr) and not np.all(np.asarray(getattr(a, attr)) == np.asarray(getattr(b, attr))):
            return False
    return True


def _elementwise(c: C.Constraint) -> C.Constraint:
    """The constraint on one element: ``Independent`` wrappers off, real vectors as reals."""
    while hasattr(c, "base") and hasattr(c, "extra"):  # an Independent's support
        c = c.base
    return C.real if isinstance(c, C._RealVector) else c


def _same_support(a: C.Constraint, b: C.Constraint) -> bool:
    """Whether two supports are the same set (same kind, concrete bounds equal)."""
    a, b = _elementwise(a), _elementwise(b)
    if type(a) is not type(b) or a.event_dim != b.event_dim:
        return False
    try:
        return _same_bounds(a, b)
    except Exception:  # bounds that depend on other sites are traced: the kind must do
        return True


def custom_guide(key: jax.Array, fn: Callable, target) -> CustomGuide:
    """Initialise a guide function's parameters and check it against the model.

    Args:
        key: a ``jax.random`` key (for params with a random initialiser ``init(key)``).
        fn: the guide function, ``fn(m)`` or ``fn(m, *model_args, **model_kwargs)``.
        target: the Target (or model function ``model(m)``) the guide is for.

    Example:
        >>> def guide(m):
        ...     m.sample("mu", dist.Normal(m.param("loc", 0.0), m.param("scale", 0.1, constraints.positive)))
        >>> q = custom_guide(jax.random.key(0), guide, t)
        >>> q.constrained_params()
        {'loc': Array(0.), 'scale': Array(0.1)}

    Raises:
        ValueError: the guide misses a latent site of the model, draws a site the model does not
            have (or observes one), gives a site another shape, or another support. The message
            names the sites.
    """
    key = check_key(key, "vi.custom_guide")
    if not callable(fn):
        raise TypeError(f"guide: expected a guide function guide(m), got {type(fn).__name__}.")
    program = target if isinstance(target, Program) else make_program("custom_guide", target)
    takes_args = _takes_model_args(fn, program)
    probe = CustomGuide(fn, {}, (), takes_args)
    h = Handle(key=key, full_data=True, model_name=f"guide `{model_name(fn)}`")
    try:
        if takes_args:
            fn(h, *program.args, **program.kwargs)
        else:
            fn(h)
    except ValueError:
        # A distribution refused its parameters (a negative scale, say), naming neither the guide
        # site it was for nor the guide param it came from: find both.
        detail = invalid_guide_site(probe, program, key, None, "initial")
        if detail is None:
            raise
        raise ValueError(detail) from None
    tr = h.trace
    params, constraints = {}, []
    for s in tr.values():
        if s.kind == "param":
            c = s.constraint or C.real
            try:
                params[s.name] = biject_to(c).inverse(jnp.asarray(s.value, jnp.result_type(float)))
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"guide `{probe.name}`: param `{s.name}` has constraint {c!r}: {err}"
                ) from None
            if not np.all(np.isfinite(np.asarray(params[s.name]))):
                raise ValueError(
                    f"guide `{probe.name}`: the initial value of param `{s.name}` is not inside its "
                    f"constraint {c!r}; give an `init` inside it."
                )
            constraints.append((s.name, c))
    guide = CustomGuide(fn, params, tuple(constraints), takes_args)
    _check_sites(guide.name, tr, program)
    return guide


def check_guide(guide: CustomGuide, program: Program) -> None:
    """Check a built guide against ``program`` as :func:`custom_guide` does (a guide fitted to one
    model and passed with another: name the sites that differ). Runs the guide abstractly."""
    captured: dict[str, dict[str, Site]] = {}

    def run(key):
        captured["trace"] = guide.run(program, key=key, full_data=True)
        return 0

    jax.eval_shape(run, jax.random.key(0))
    _check_sites(guide.name, captured["trace"], program)


def _check_sites(name: str, tr: dict[str, Site], program: Program) -> None:
    observed = [s.name for s in tr.values() if s.kind == "sample" and s.is_observed]
    if observed:
        raise ValueError(
            f"guide `{name}` observes site(s) {observed}; a guide only draws the model's latent sites "
            "(drop `obs=`)."
        )
    drawn = {s.name: s for s in tr.values() if s.kind == "sample"}
    latent = {s.name: s for s in program.latent}
    missing = [n for n in latent if n not in drawn]
    extra = [n for n in drawn if n not in latent]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"does not draw the latent site(s) {missing} of model `{program.name}`")
        if extra:
            parts.append(f"draws site(s) {extra} that are not latent sites of model `{program.name}`")
        raise ValueError(
            f"guide `{name}` " + " and ".join(parts) + f". A guide must draw exactly the model's latent "
            f"sites {list(latent)}, under the same names, with m.sample."
        )
    for n, model_site in latent.items():
        g = drawn[n]
        if tuple(g.value.shape) != model_site.shape:
            raise ValueError(
                f"guide `{name}`: site `{n}` has shape {tuple(g.value.shape)} in the guide but "
                f"{model_site.shape} in model `{program.name}`; give the guide's distribution the "
                "model site's shape (e.g. inside the same plate)."
            )
        gs = g.distribution.support
        if not _same_support(gs, model_site.support):
            raise ValueError(
                f"guide `{name}`: site `{n}` has support {gs!r} in the guide but {model_site.support!r} "
                f"in model `{program.name}`, so the guide would put mass where the model has none (or "
                f"miss part of its support). Draw `{n}` from a distribution on {model_site.support!r}"
                + (" (e.g. LogNormal or Gamma)." if isinstance(model_site.support, C._Positive) else ".")
            )


def _check_distribution(d: Distribution) -> str | None:
    """Re-run the parameter checks of ``d`` (and of the distributions it wraps) on concrete values:
    the message of the first that fails, or None. Inside a compiled guide they were skipped."""
    for cls in type(d).__mro__:
        check = cls.__dict__.get("__check_init__")
        if check is not None:
            try:
                check(d)
            except ValueError as err:
                return str(err)
    for field in dataclasses.fields(d):
        value = getattr(d, field.name, None)
        inner = value if isinstance(value, list | tuple) else (value,)
        for x in inner:
            if isinstance(x, Distribution) and (message := _check_distribution(x)) is not None:
                return message
    return None


def invalid_guide_site(
    guide: CustomGuide, program: Program, key, params: dict | None, when: str
) -> str | None:
    """Say which site of a custom guide gets a distribution with a parameter outside its domain
    at ``params`` (constrained values; None: the guide's own initial values), and which guide
    params it is computed from; None when every site's distribution is valid (or the guide
    cannot be run compiled). ``when`` ("initial", "fitted") words the message.

    The guide runs compiled, so that the distributions are built without their checks, which
    then run site by site on the values; a param feeds a site when a change in it moves the
    site's distribution (a forward-mode derivative).
    """
    constraints: dict[str, C.Constraint] = {}

    def run(values, k):
        h = Handle(key=k, params=values, full_data=True, model_name=f"guide `{guide.name}`")
        if guide.takes_model_args:
            guide.fn(h, *program.args, **program.kwargs)
        else:
            guide.fn(h)
        constraints.update({n: s.constraint or C.real for n, s in h.trace.items() if s.kind == "param"})
        dists = {n: s.distribution for n, s in h.trace.items() if s.kind == "sample"}
        return dists, {n: s.value for n, s in h.trace.items() if s.kind == "param"}

    try:
        dists, values = jax.jit(run)(params or {}, key)
    except Exception:  # the guide fails for another reason: leave its own error to the caller
        return None
    for site, d in dists.items():
        message = _check_distribution(d)
        if message is None:
            continue
        feeds = []
        for name, value in values.items():
            if not jnp.issubdtype(jnp.asarray(value).dtype, jnp.inexact):
                continue

            def site_dist(v, name=name, site=site):
                return run({**values, name: v}, key)[0][site]

            try:
                _, tangent = jax.jvp(site_dist, (value,), (jnp.ones_like(value),))
            except Exception:
                continue
            moved = [
                np.any(np.asarray(t) != 0)
                for t in jax.tree.leaves(tangent)
                if jnp.issubdtype(jnp.asarray(t).dtype, jnp.inexact)
            ]
            if any(moved):
                feeds.append(name)
        shown = ", ".join(
            f"`{n}` = {np.array2string(np.asarray(values[n]), precision=4, threshold=6)}" for n in feeds
        )
        free = [n for n in feeds if isinstance(constraints.get(n), C._Real)]
        hint = (
            f" {', '.join(f'`{n}`' for n in free)} {'is' if len(free) == 1 else 'are'} declared without a "
            "constraint, so nothing keeps it inside the distribution's domain while it is optimised: "
            f'declare it with one, e.g. m.param("{free[0]}", 0.1, constraints.positive) for a scale.'
            if free
            else " Give the param an initial value inside the distribution's domain."
        )
        source = f" It is computed from guide param(s) {shown}." if feeds else ""
        return (
            f"guide `{guide.name}`: at its {when} parameters, the distribution of site `{site}` is "
            f"invalid: {message}{source}{hint}"
        )
    return None
