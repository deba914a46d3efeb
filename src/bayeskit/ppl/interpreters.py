"""Interpreters: run a model to record a trace, draw from the prior, score values, predict."""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.ppl.handle import Handle, Site

__all__ = [
    "trace",
    "log_joint",
    "sample_prior",
    "predictive",
    "check_model_args",
    "model_arguments",
    "model_name",
    "explaining_traced_values",
]


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


def model_arguments(model: Callable, args: tuple, kwargs: dict, params=None) -> tuple[tuple, dict]:
    """Check that ``model(m, *args, **kwargs)`` binds; return arguments a traced model can use.

    pandas objects among the arguments (a ``Series``, ``DataFrame`` or ``Index``, also inside a
    dict, list or tuple) are a problem inside a compiled model: ``a + b * x`` with a Series ``x``
    makes pandas ask JAX for the values of the traced ``b`` (a ``TracerArrayConversionError``),
    and so does ``X @ w`` with a DataFrame. So when the model, run once abstractly (with
    ``params``), fails with the arguments as given, they become NumPy arrays of their values
    (booleans and numbers, nullable ones too with ``<NA>`` as NaN); a column of strings,
    categories or dates then raises a ``TypeError`` naming the argument and the columns. A model
    that runs as given (it takes the values itself, ``df["x"].to_numpy()``) keeps its pandas
    objects. If it fails both ways because it computes with pandas values directly, a
    ``TypeError`` says to take ``.to_numpy()`` first.

    Arguments that are (nested) lists of numbers, ``x = [0.1, 0.5, 0.9]``, are treated the same
    way: kept when the model runs with them, NumPy arrays when only that makes it run (``b * x``
    with a list ``x`` is a ``TypeError`` in Python).
    """
    check_model_args(model, args, kwargs)
    args, kwargs = tuple(args), dict(kwargs)
    pd = sys.modules.get("pandas")
    if pd is None and not any(isinstance(a, list) for a in (*args, *kwargs.values())):
        return args, kwargs  # no pandas object, no list: nothing to convert
    pandas_types = (pd.Series, pd.DataFrame, pd.Index) if pd is not None else ()
    names = _argument_names(model, args)
    found: list[str] = []  # the pandas objects
    lists: list[str] = []  # the lists of numbers

    def defer(where: str, value):
        """``value`` with each pandas object in it replaced by a :class:`_Deferred` conversion."""
        if pandas_types and isinstance(value, pandas_types):
            found.append(where)
            return _Deferred(lambda: _pandas_values(pd, model, where, value))
        return _rebuilt(value, lambda key, item: defer(f"{where}[{key!r}]", item))

    def defer_argument(where: str, value):
        if isinstance(value, list) and value and _numbers_only(value):
            lists.append(where)
            return _Deferred(lambda: _number_array(value))
        return defer(where, value)

    # Deferred: a model that handles its pandas arguments itself never needs them converted.
    deferred = (
        tuple(defer_argument(names[i], a) for i, a in enumerate(args)),
        {k: defer_argument(f"`{k}`", v) for k, v in kwargs.items()},
    )
    if not found and not lists:
        return args, kwargs
    as_given = _traced_error(model, args, kwargs, params)
    if as_given is None:
        return args, kwargs
    new_args, new_kwargs = _resolve(deferred[0]), _resolve(deferred[1])  # raises if not numbers
    if _traced_error(model, new_args, new_kwargs, params) is None:
        return new_args, new_kwargs
    if found and isinstance(as_given, jax.errors.JAXTypeError):
        what = "is a pandas object" if len(found) == 1 else "are pandas objects"
        raise TypeError(
            f"model `{model_name(model)}`: {', '.join(found)} {what} that the model computes with "
            f"directly, which JAX cannot trace ({type(as_given).__name__}), and the model also "
            "fails when given their NumPy values. Take the values inside the model before "
            'computing with them (b * df["x"].to_numpy(), not b * df["x"]), or pass NumPy arrays.'
        ) from None
    return args, kwargs  # fails for another reason: let the model's own error show


def _numbers_only(value) -> bool:
    """True for a Python number, or a list of them, or of such lists (rectangular or not)."""
    if isinstance(value, list):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, int | float | np.number | np.bool_)


def _number_array(value: list):
    """A list of numbers as a NumPy array; a ragged one as given (the model's own error then shows)."""
    try:
        return np.asarray(value)
    except ValueError:
        return value


class _Deferred:
    """A conversion of a pandas or list argument, carried out only if the model needs it."""

    def __init__(self, convert: Callable):
        self.convert = convert


def _rebuilt(value, visit: Callable):
    """``value`` with ``visit(key, item)`` applied to the items of a dict, list or tuple (not a named
    tuple), as a plain dict, list or tuple; ``value`` itself if no item changed or it is none of these."""
    if isinstance(value, dict):
        new = {k: visit(k, v) for k, v in value.items()}
        return new if any(new[k] is not value[k] for k in value) else value
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        items = [visit(i, v) for i, v in enumerate(value)]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return list(items) if isinstance(value, list) else tuple(items)
    return value


def _resolve(tree):
    """Carry out the deferred conversions of :func:`model_arguments`."""
    if isinstance(tree, _Deferred):
        return tree.convert()
    return _rebuilt(tree, lambda _, item: _resolve(item))


_TRACER_ERRORS = (
    jax.errors.TracerBoolConversionError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
)


@contextlib.contextmanager
def explaining_traced_values(name: str, handles: list[Handle]):
    """Re-raise JAX's errors for Python decisions on traced values as one that names the model.

    bayeskit runs a model with abstract (traced) values to find its sites and to compile it, so
    ``if x > 0:``, ``float(x)`` or ``range(int(n))`` on a latent value, or on anything computed
    from one, cannot be decided in Python; JAX's message named neither the model nor a site.
    ``handles`` is the list the caller appends each run's :class:`Handle` to: the last site
    recorded before the failure is named.
    """
    try:
        yield
    except _TRACER_ERRORS as err:
        sites = list(handles[-1].trace) if handles else []
        where = f"after site `{sites[-1]}`" if sites else "before its first site"
        raise TypeError(
            f"model `{name}` ({where}) makes a Python decision on a traced value: {type(err).__name__}. "
            "bayeskit runs a model with abstract values (to find its sites, and compiled), so `if x > 0:`, "
            "`float(x)`, `int(x)` or `range(n)` with `x` or `n` a latent value (or computed from one) "
            "cannot be decided in Python. Use jnp.where(x > 0, a, b) or jax.lax.cond for a branch, keep "
            "values as arrays (x.astype(float), not float(x)), and compute sizes and indices from the "
            "data arguments (NumPy arrays), not from latent values. The line in the model is in the "
            "traceback above."
        ) from err


def _traced_error(model: Callable, args: tuple, kwargs: dict, params) -> Exception | None:
    """The error of one abstract run of the model (as every compiled interpreter runs it), or None."""

    def run(key):
        h = Handle(key=key, params=params, full_data=True, model_name=model_name(model))
        model(h, *args, **kwargs)
        return 0

    try:
        jax.eval_shape(run, jax.random.key(0))
    except Exception as err:  # the model's own error, whatever it is, is reported by the caller's run
        return err
    return None


def _argument_names(model: Callable, args: tuple) -> list[str]:
    """How an error names each positional argument: by the model's parameter name where known."""
    try:
        params = list(inspect.signature(model).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(len(args)):
        if i < len(params) and params[i].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            names.append(f"`{params[i].name}`")
        else:
            names.append(f"positional argument {i}")
    return names


def _pandas_values(pd, model: Callable, where: str, value) -> np.ndarray:
    """The values of a pandas object as a NumPy array, or a ``TypeError`` if some are not numbers."""
    api = pd.api.types
    columns = value.dtypes.items() if isinstance(value, pd.DataFrame) else [(None, value.dtype)]
    bad = [
        (c, dtype) for c, dtype in columns if not (api.is_numeric_dtype(dtype) or api.is_bool_dtype(dtype))
    ]
    if bad:
        what = (
            f"column(s) {[c for c, _ in bad]} of dtype {sorted({str(d) for _, d in bad})}"
            if isinstance(value, pd.DataFrame)
            else f"values of dtype {bad[0][1]}"
        )
        fix = (
            "Encode them as numbers first (pd.get_dummies, or .cat.codes for categories), or pass "
            "only the numeric columns (df.select_dtypes('number'))."
            if isinstance(value, pd.DataFrame)
            else "Encode them as numbers first (pd.factorize, or .cat.codes for categories)."
        )
        raise TypeError(
            f"model `{model_name(model)}`: argument {where} is a pandas {type(value).__name__} with "
            f"{what}, which a model cannot compute with. {fix}"
        )
    values = value.to_numpy()
    if values.dtype == object:  # mixed or nullable dtypes: one float array, <NA> as NaN
        values = value.to_numpy(dtype=float, na_value=np.nan)
    return values


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
    args, kwargs = model_arguments(model, args, kwargs, params)
    return _trace(model, args, kwargs, key=key, values=values, params=params, subsample=subsample)


def _trace(
    model, args, kwargs, *, key=None, values=None, params=None, subsample=None, full_data=False, handles=None
):
    h = Handle(
        key=key,
        values=values,
        params=params,
        subsample=subsample,
        full_data=full_data,
        model_name=model_name(model),
    )
    if handles is not None:  # for explaining_traced_values: the sites reached before a failure
        handles.append(h)
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
    args, kwargs = model_arguments(model, args, kwargs)

    handles: list[Handle] = []

    def one(k):
        return _returned(_trace(model, args, kwargs, key=k, full_data=True, handles=handles))

    if num_samples is None:
        return one(key)
    num_samples = check_int("sample_prior", "num_samples", num_samples)
    with explaining_traced_values(model_name(model), handles):
        return jax.jit(jax.vmap(one))(jax.random.split(key, num_samples))


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

    Raises:
        ValueError: draws of a site outside its support (a scale's log given as the scale),
            naming the site and the first such draw; checked unless ``predictive`` itself runs
            inside ``jax.jit``, where the draws are traced.
    """
    key = check_key(key, "predictive")
    args, kwargs = model_arguments(model, args, kwargs)
    draws = getattr(samples, "draws", samples)
    if not draws:
        raise ValueError(
            f"predictive: `samples` is {'None' if draws is None else 'empty'}; pass a dict of posterior "
            "draws (or a Posterior). For prior predictive draws, use "
            "bayeskit.ppl.sample_prior(key, model, *args, num_samples=N)."
        )
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

    handles: list[Handle] = []

    def one(k, vals):
        tr = _trace(model, args, kwargs, key=k, values=vals, full_data=True, handles=handles)
        # Each draw against its site's support, there (a support can depend on other sites).
        inside = {name: jnp.all(tr[name].constraint.check(tr[name].value)) for name in latent}
        return _returned(tr, exclude=latent), inside

    # Compiled: op by op, every operation of the model was dispatched on its own (3.6 s for a
    # three-coefficient regression's 4,000 draws).
    with explaining_traced_values(model_name(model), handles):
        out, inside = jax.jit(jax.vmap(one))(jax.random.split(key, n), flat)
    if any(isinstance(ok, jax.core.Tracer) for ok in inside.values()):
        inside = {}  # called inside a user's jit: the draws are traced and cannot be checked here
    for name, ok in jax.device_get(inside).items():
        if not ok.all():
            # Draws outside the support (a scale's log given as the scale) made predictions from
            # invalid parameters (a Normal with a negative scale) without a word.
            first = int(np.argmin(ok))
            where = np.unravel_index(first, lead) if lead else ()
            raise ValueError(
                f"predictive: {int((~ok).sum())} of {ok.size} draws of site `{name}` lie outside its "
                f"support ({probe[name].constraint!r}); the first at index {tuple(int(i) for i in where)}: "
                f"{np.asarray(flat[name][first]).tolist()}. Pass draws on the constrained scale (a "
                "Posterior's draws are), not unconstrained or transformed values."
            )
    return {k: v.reshape(lead + v.shape[1:]) for k, v in out.items()}
