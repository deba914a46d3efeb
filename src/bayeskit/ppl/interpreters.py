"""Interpreters: run a model to record a trace, draw from the prior, score values, predict."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit.ppl.handle import Handle, Site

__all__ = ["trace", "log_joint", "sample_prior", "predictive", "check_model_args", "model_name"]


def model_name(model: Callable) -> str:
    return getattr(model, "__name__", type(model).__name__)


def check_model_args(model: Callable, args: tuple, kwargs: dict) -> None:
    """Raise a clear ``TypeError`` if ``model(m, *args, **kwargs)`` would not bind its arguments."""
    if not callable(model):
        raise TypeError(
            f"A model must be a function taking the handle `m` first; got {type(model).__name__}."
        )
    try:
        sig = inspect.signature(model)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(None, *args, **kwargs)
    except TypeError as err:
        params = [p for p in sig.parameters.values()][1:]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        unexpected = [k for k in kwargs if k not in {p.name for p in params}]
        if unexpected and not takes_any:
            name = model_name(model)
            raise TypeError(
                f"model `{name}` has no argument(s) {', '.join(f'`{k}`' for k in unexpected)}; its "
                f"signature is {name}{sig}."
            ) from None
        missing = []
        bound = sig.bind_partial(None, *args, **kwargs).arguments if _partial_ok(sig, args, kwargs) else {}
        for p in params:
            if (
                p.name not in bound
                and p.default is inspect.Parameter.empty
                and p.kind
                in (
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    inspect.Parameter.KEYWORD_ONLY,
                )
            ):
                missing.append(p.name)
        name = model_name(model)
        if missing:
            raise TypeError(
                f"model `{name}` is missing argument(s) {', '.join(f'`{m}`' for m in missing)}: pass "
                f"them after the model, e.g. target({name}, {', '.join(f'{m}=...' for m in missing)}). "
                f"Its signature is {name}{sig}."
            ) from None
        raise TypeError(f"model `{name}{sig}` cannot take these arguments: {err}.") from None


def _partial_ok(sig, args, kwargs) -> bool:
    try:
        sig.bind_partial(None, *args, **kwargs)
        return True
    except TypeError:
        return False


def trace(
    model: Callable,
    *args,
    key: jax.Array | None = None,
    values: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    subsample: dict[str, Any] | None = None,
    **kwargs,
) -> dict[str, Site]:
    """Run ``model`` once and return its sites, in program order.

    Latent sites take their value from ``values`` when given there, else are drawn from their
    prior with ``key``. Each site records its distribution, value and (scaled) log density.

    Example:
        >>> tr = trace(model, sigma, y=y, key=jax.random.key(0))
        >>> tr["mu"].value, tr["y"].log_prob
    """
    check_model_args(model, args, kwargs)
    return _trace(model, args, kwargs, key=key, values=values, params=params, subsample=subsample)


def _trace(model, args, kwargs, *, key=None, values=None, params=None, subsample=None, full_data=False):
    h = Handle(
        key=key,
        values=values,
        params=params,
        subsample=subsample,
        full_data=full_data,
        model_name=model_name(model),
    )
    model(h, *args, **kwargs)
    return h.trace


def log_joint(model: Callable, values: dict[str, Any], *args, params=None, **kwargs) -> jax.Array:
    """Return log p(values, data): the model's log density at the given constrained latent values.

    No Jacobian is added: this is the density with respect to the constrained variables.
    """
    tr = trace(model, *args, values=values, params=params, **kwargs)
    missing = [
        s.name for s in tr.values() if s.kind == "sample" and not s.is_observed and s.name not in values
    ]
    if missing:
        raise ValueError(
            f"log_joint: no value given for latent site(s) {missing} of model `{model_name(model)}`."
        )
    return sum((s.log_prob for s in tr.values() if s.kind in ("sample", "factor")), jnp.zeros(()))


def _returned(tr: dict[str, Site], exclude=()) -> dict[str, jax.Array]:
    return {
        n: s.value
        for n, s in tr.items()
        if n not in exclude and (s.kind == "deterministic" or (s.kind == "sample" and not s.is_observed))
    }


def sample_prior(key: jax.Array, model: Callable, *args, num_samples: int | None = None, **kwargs):
    """Draw latent sites, unobserved data and deterministics from the model's prior.

    Args:
        key: a ``jax.random`` key.
        model: the model function.
        *args, **kwargs: the model's arguments; leave data arguments as ``None`` to simulate data.
        num_samples: if given, the number of independent draws (a leading dimension).

    Returns:
        ``{name: value}`` for every unobserved sample site and every deterministic. Plates with
        ``subsample_size`` cover all their indices here (subsampling is for inference).
    """
    key = check_key(key, "sample_prior")
    check_model_args(model, args, kwargs)

    def one(k):
        return _returned(_trace(model, args, kwargs, key=k, full_data=True))

    if num_samples is None:
        return one(key)
    return jax.vmap(one)(jax.random.split(key, num_samples))


def predictive(key: jax.Array, model: Callable, samples, *args, **kwargs) -> dict[str, jax.Array]:
    """Draw from the posterior (or prior) predictive by substituting ``samples`` into ``model``.

    Args:
        key: a ``jax.random`` key.
        model: the model function.
        samples: ``{site: array}`` of draws with any common leading dimensions (e.g. a
            ``Posterior``'s ``[chain, draw, ...]``), or an object with a ``draws`` dict.
        *args, **kwargs: the model's arguments, with the data to predict left as ``None``.

    Returns:
        ``{name: array}`` of every sample site not in ``samples`` and every deterministic, with
        the same leading dimensions as ``samples``. Plates with ``subsample_size`` cover all
        their indices here: the predictions are for every data point.
    """
    key = check_key(key, "predictive")
    check_model_args(model, args, kwargs)
    draws = getattr(samples, "draws", samples)
    if not draws:
        raise ValueError("predictive: `samples` is empty; pass a dict of posterior draws.")
    probe = _trace(model, args, kwargs, key=jax.random.key(0), full_data=True)
    unknown = [n for n in draws if n not in probe]
    if unknown:
        raise ValueError(
            f"predictive: sites {unknown} in `samples` are not sites of model `{model_name(model)}`."
        )
    latent = {n: jnp.asarray(v) for n, v in draws.items() if probe[n].kind == "sample"}
    if not latent:
        raise ValueError(
            f"predictive: `samples` holds no sample site of model `{model_name(model)}` (only "
            f"{sorted(draws)}); pass draws of its latent sites, e.g. a Posterior or its `draws`."
        )
    leads = {k: v.shape[: v.ndim - np.ndim(probe[k].value)] for k, v in latent.items()}
    name0 = next(iter(latent))
    lead = leads[name0]
    mismatched = {k: tuple(d) for k, d in leads.items() if d != lead}
    if mismatched or any(v.ndim < np.ndim(probe[k].value) for k, v in latent.items()):
        shapes = {k: tuple(v.shape) for k, v in latent.items()}
        raise ValueError(
            f"predictive: the draws in `samples` must share their leading (draw) dimensions; got "
            f"shapes {shapes}, where the sites' own shapes are "
            f"{ {k: tuple(np.shape(probe[k].value)) for k in latent} }."
        )
    n = int(np.prod(lead, dtype=int))
    flat = {k: v.reshape((n,) + v.shape[len(lead) :]) for k, v in latent.items()}

    def one(k, vals):
        return _returned(_trace(model, args, kwargs, key=k, values=vals, full_data=True), exclude=latent)

    out = jax.vmap(one)(jax.random.split(key, n), flat)
    return {k: v.reshape(lead + v.shape[1:]) for k, v in out.items()}
