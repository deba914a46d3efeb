"""The conditioned model as variational inference sees it: sites, data checks, traces.

A :class:`~bayeskit.ppl.Target` always scores the full data set (DESIGN: "a Target always scores
the full data"), and it cannot hold a discrete latent site. Variational inference needs both
more and less: minibatches through subsampled plates, and (with a custom guide) discrete latent
sites whose gradients come from the score function. So VI runs the model itself, through the
same :class:`~bayeskit.ppl.Handle` that a Target uses, with a key when plates should subsample.
``Program`` is that view of a model: built once per run from a Target or from a model function
whose only argument is the handle, with the site facts that the guides and the ELBO need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from bayeskit.ppl.handle import Handle, Layout, Site
from bayeskit.ppl.interpreters import check_model_args, model_name
from bayeskit.ppl.target import Target, check_no_random_params, target

__all__ = ["Program", "LatentSite", "program", "depends_on_input"]


@dataclasses.dataclass(frozen=True)
class LatentSite:
    """Static facts about one latent site of the model (from an abstract run on the full data)."""

    name: str
    shape: tuple[int, ...]
    support: Any
    is_discrete: bool
    plates: tuple[str, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """A model with its arguments, its latent sites, and whether any plate subsamples.

    Attributes:
        model, args, kwargs, params: the model and what it is conditioned on.
        name: the model's name, for messages.
        target: the Target, when the model has one (every latent site continuous).
        latent: the latent sites in program order.
        is_subsampled: whether some plate declares ``subsample_size`` below its size.
        local_latent: latent sites inside a subsampled plate (each minibatch sees some entries).
    """

    model: Callable
    args: tuple
    kwargs: dict
    params: dict
    name: str
    target: Target | None
    latent: tuple[LatentSite, ...]
    is_subsampled: bool
    local_latent: tuple[str, ...]

    def run(self, *, key=None, values=None, z=None, full_data: bool = True) -> tuple[dict[str, Site], Any]:
        """Run the model once; return its trace and the log-Jacobian of the values read off ``z``.

        Latent values come from ``values`` (constrained) or from ``z`` (the target's flat
        unconstrained vector). With ``full_data=False`` and a ``key``, subsampled plates draw
        their minibatch indices from the key, and their sites' log densities are scaled by
        size / subsample size (the unbiased estimate of the full-data sum).
        """
        layout = None
        if z is not None:
            layout = {s.name: Layout(s.offset, s.unconstrained_shape) for s in self.target.sites}
        h = Handle(
            key=key,
            values=values,
            z=z,
            layout=layout,
            params=self.params,
            full_data=full_data,
            model_name=self.name,
        )
        self.model(h, *self.args, **self.kwargs)
        return h.trace, h.log_jacobian


def _discover(model, args, kwargs, params, name, full_data: bool) -> dict[str, Site]:
    captured: dict[str, Any] = {}

    def run(key):
        h = Handle(key=key, params=params, full_data=full_data, model_name=name)
        model(h, *args, **kwargs)
        captured["trace"] = h.trace
        captured["random"] = h.randomly_initialised
        return 0

    # Shapes, supports and plate scales only: no numerics run.
    jax.eval_shape(run, jax.random.key(0))
    # The ELBO runs the model with a fresh key at every step: such a param would change each time.
    check_no_random_params(name, captured["random"])
    return captured["trace"]


def program(fn: str, target_or_model) -> Program:
    """Build the :class:`Program` of a Target, or of a model ``model(m)`` with its data bound.

    Raises:
        TypeError: neither a Target nor a callable.
        ValueError: an observed site has no data (an empty data set), naming the site.
    """
    if isinstance(target_or_model, Target):
        t = target_or_model
        model, args, kwargs, params, name = t.model, t.args, t.kwargs, t.params, t.name
    elif callable(target_or_model):
        model, args, kwargs, params = target_or_model, (), {}, {}
        name = model_name(model)
        check_model_args(model, args, kwargs)
        t = None
    else:
        raise TypeError(
            f"{fn}: expected a Target (bayeskit.ppl.target(model, ...)) or a model function whose "
            f"only argument is the handle `m` (bind the data with a closure or functools.partial); "
            f"got {type(target_or_model).__name__}."
        )
    full = _discover(model, args, kwargs, params, name, full_data=True)
    sub = _discover(model, args, kwargs, params, name, full_data=False)
    for s in full.values():
        if s.kind == "sample" and s.is_observed and int(np.prod(s.value.shape, dtype=int)) == 0:
            raise ValueError(
                f"{fn}: observed site `{s.name}` of model `{name}` has no data (shape "
                f"{tuple(s.value.shape)}): the data set is empty, so there is nothing to fit. Pass "
                "at least one observation."
            )
    latent = tuple(
        LatentSite(
            s.name, tuple(s.value.shape), s.distribution.support, bool(s.distribution.is_discrete), s.plates
        )
        for s in full.values()
        if s.kind == "sample" and not s.is_observed
    )
    if t is None and not any(s.is_discrete for s in latent):
        t = target(model, *args, params=params, **kwargs)
    is_subsampled = any(s.scale != 1.0 for s in sub.values())
    local = tuple(s.name for s in latent if sub[s.name].scale != 1.0)
    return Program(model, tuple(args), dict(kwargs), dict(params), name, t, latent, is_subsampled, local)


def depends_on_input(fn: Callable, *args):
    """For each array leaf of ``fn(*args)``, whether it depends on the (array) arguments.

    Reads the dependence off the traced program (``jax.make_jaxpr``; nothing is compiled or run):
    an output depends on the inputs when some chain of operations leads from an input to it.
    Used to find prior and guide distributions whose parameters do not depend on other latent
    sites, for which closed-form KL terms are exact.
    """
    from jax.extend.core import Literal

    closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    jaxpr = closed.jaxpr
    live = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in live for v in eqn.invars):
            live.update(eqn.outvars)
    flags = [not isinstance(v, Literal) and v in live for v in jaxpr.outvars]
    return jax.tree.unflatten(jax.tree.structure(shape), flags)
