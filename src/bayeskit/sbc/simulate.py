"""Replace a model's observed sites: draw them (simulation) or take them from an argument (fitting).

Simulation-based calibration fits the same model to many simulated data sets. Building a new
:class:`~bayeskit.ppl.Target` for each data set would compile the log density once per data set,
so instead the observed values become an *argument* of the model: ``with_data(model, names)``
returns ``fit_model(m, data, *args, **kwargs)`` in which site ``name`` is observed at
``data[name]`` whatever the model itself passes as ``obs``. A target built from it has the data
among its ``args``, and swapping them for traced arrays (inside ``jit``/``vmap``) changes the
numbers without changing the program. ``simulating(model, names)`` is the twin that leaves those
sites unobserved, so that the prior interpreters draw them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from bayeskit.diagnostics.summary import element_names
from bayeskit.ppl.handle import Site
from bayeskit.ppl.interpreters import check_model_args, model_name, trace

__all__ = ["check_observed", "quantity_names", "simulating", "with_data"]


class _ObservedHandle:
    """Stands in for the handle ``m``: overrides ``obs`` at the named sites, forwards the rest."""

    def __init__(self, handle, names: frozenset[str], data: dict[str, Any] | None):
        self._handle = handle
        self._names = names
        self._data = data

    def __getattr__(self, attr):
        return getattr(self._handle, attr)

    def sample(self, name: str, d, obs=None):
        if name in self._names:
            obs = None if self._data is None else self._data[name]
        return self._handle.sample(name, d, obs=obs)


def with_data(model: Callable, names: Sequence[str]) -> Callable:
    """Return ``fit_model(m, data, *args, **kwargs)``: ``model`` observed at ``data[name]``."""
    names = frozenset(names)

    def fit_model(m, data, *args, **kwargs):
        return model(_ObservedHandle(m, names, data), *args, **kwargs)

    fit_model.__name__ = model_name(model)
    return fit_model


def simulating(model: Callable, names: Sequence[str]) -> Callable:
    """Return ``model`` with the named sites unobserved, so a prior draw simulates them."""
    names = frozenset(names)

    def sim_model(m, *args, **kwargs):
        return model(_ObservedHandle(m, names, None), *args, **kwargs)

    sim_model.__name__ = model_name(model)
    return sim_model


def check_observed(model: Callable, observed, args: tuple, kwargs: dict) -> tuple[tuple[str, ...], dict]:
    """Check ``observed`` against the model's sites; return the names and an abstract prior trace.

    The trace (from ``jax.eval_shape``: shapes and dtypes only, no numerics) has the observed
    sites drawn, so it also gives the simulated data's shapes.

    Raises:
        ValueError: ``observed`` is empty, not strings, or names a site that is not a sample site.
    """
    if isinstance(observed, str):
        observed = (observed,)
    try:
        observed = tuple(observed)
    except TypeError:
        raise ValueError(
            f"sbc.run: `observed` must be a site name or a list of them, got {observed!r}."
        ) from None
    if not observed or not all(isinstance(n, str) for n in observed):
        raise ValueError(f"sbc.run: `observed` must name at least one sample site, got {observed!r}.")
    check_model_args(model, args, kwargs)
    sim_model = simulating(model, observed)
    captured: dict[str, dict[str, Site]] = {}

    def probe(key):
        captured["trace"] = trace(sim_model, *args, key=key, **kwargs)
        return 0

    jax.eval_shape(probe, jax.random.key(0))
    tr = captured["trace"]
    samples = [n for n, s in tr.items() if s.kind == "sample"]
    for n in observed:
        if n not in tr or tr[n].kind != "sample":
            raise ValueError(
                f"sbc.run: `observed` names site `{n}`, but model `{model_name(model)}` has no sample "
                f"site of that name; its sample sites are {samples}. Pass the name(s) of the data "
                "site(s) to simulate, e.g. observed='y'."
            )
    latent = [n for n, s in tr.items() if s.kind == "sample" and not s.is_observed and n not in observed]
    if not latent:
        raise ValueError(
            f"sbc.run: model `{model_name(model)}` has no latent sample sites besides `observed` "
            f"{list(observed)}; there is nothing to calibrate."
        )
    return observed, tr


def quantity_names(values: dict[str, Any], names: Sequence[str]) -> list[str]:
    """Scalar quantity names, ``name`` or ``name[i,j]`` (0-based, row-major, as in summaries)."""
    out: list[str] = []
    for n in names:
        out.extend(element_names(n, tuple(values[n].shape)))
    return out
