"""``target``: a conditioned model as one log density over a flat unconstrained vector."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._compiled import compiled
from bayeskit._key import check_key
from bayeskit.ppl.handle import Handle, Layout, Site
from bayeskit.ppl.interpreters import explaining_traced_values, model_arguments, model_name

__all__ = ["Target", "target"]


@dataclasses.dataclass(frozen=True)
class SiteInfo:
    """Static facts about one latent site: its place in ``z`` and its constrained shape."""

    name: str
    offset: int
    unconstrained_shape: tuple[int, ...]
    shape: tuple[int, ...]
    support: str

    @property
    def size(self) -> int:
        return int(np.prod(self.unconstrained_shape, dtype=int))


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """What every inference algorithm consumes: the model, conditioned on its data.

    Attributes:
        dim: length of the flat unconstrained vector ``z``.
        sites: the latent sites in ``z`` order, with offsets and shapes.
        deterministics: names of the deterministic sites.
        model, args, kwargs: the model and the arguments it was conditioned on.

    Methods are pure functions of ``z`` (shape ``(dim,)``) that ``jax.jit``, ``jax.grad`` and
    ``jax.vmap`` transform freely:

    - ``logdensity_fn(z)``: log p(constrain(z), data) + log |det J| — what samplers target.
    - ``log_prior_fn(z)``, ``log_likelihood_fn(z)``, ``log_jacobian_fn(z)``: its three parts
      (MLE maximises the likelihood, MAP likelihood plus prior, both without the Jacobian).
    - ``constrain(z)``: ``{name: value}`` of constrained latent values and deterministics
      (``z`` may carry leading batch dimensions).
    - ``unconstrain(values)``: the inverse, from a dict of constrained latent values.
    - ``init(key)``: a starting point, uniform on (-2, 2) in every unconstrained coordinate.
    """

    model: Callable
    args: tuple
    kwargs: dict
    params: dict
    sites: tuple[SiteInfo, ...]
    deterministics: tuple[str, ...]
    observed: tuple[str, ...]
    dim: int
    name: str

    # ---------------------------------------------------------------- internals
    @property
    def _layout(self) -> dict[str, Layout]:
        return {s.name: Layout(s.offset, s.unconstrained_shape) for s in self.sites}

    def _check_z(self, z, what: str):
        z = jnp.asarray(z)
        if z.ndim < 1 or z.shape[-1] != self.dim:
            raise ValueError(
                f"{what}: expected an unconstrained vector of length {self.dim} (the target's `dim` "
                f"for model `{self.name}`), got shape {tuple(z.shape)}."
            )
        return z

    def trace_at(self, z) -> tuple[dict[str, Site], Any]:
        """Run the model at unconstrained ``z``; return its trace and the log-Jacobian."""
        h = Handle(z=z, layout=self._layout, params=self.params, full_data=True, model_name=self.name)
        self.model(h, *self.args, **self.kwargs)
        return h.trace, h.log_jacobian

    def _terms(self, z):
        z = self._check_z(z, "logdensity_fn")
        if z.ndim != 1:
            raise ValueError(
                f"logdensity_fn takes one vector of shape ({self.dim},); got {tuple(z.shape)}. "
                "Use jax.vmap for several."
            )
        if not isinstance(z, jax.core.Tracer):  # a direct call: compiled once, as constrain
            return compiled("terms", self._traced_terms, lambda f: f)(z)
        return self._traced_terms(z)

    def _traced_terms(self, z):
        tr, log_jac = self.trace_at(z)
        prior = jnp.zeros((), z.dtype)
        lik = jnp.zeros((), z.dtype)
        for s in tr.values():
            if s.kind == "sample" and not s.is_observed:
                prior = prior + s.log_prob
            elif s.kind in ("sample", "factor"):
                lik = lik + s.log_prob
        return prior, lik, log_jac

    # ---------------------------------------------------------------- public
    def logdensity_fn(self, z) -> jax.Array:
        """Log density over unconstrained ``z``, Jacobian included (up to a constant)."""
        prior, lik, log_jac = self._terms(z)
        return prior + lik + log_jac

    def log_prior_fn(self, z) -> jax.Array:
        """Sum of the latent sites' log densities at ``constrain(z)`` (no Jacobian)."""
        return self._terms(z)[0]

    def log_likelihood_fn(self, z) -> jax.Array:
        """Sum of observed sites' and factors' log densities at ``constrain(z)``."""
        return self._terms(z)[1]

    def log_jacobian_fn(self, z) -> jax.Array:
        """log |det d constrain(z) / dz| summed over latent sites."""
        return self._terms(z)[2]

    def constrain(self, z) -> dict[str, jax.Array]:
        """Map unconstrained ``z`` (``(..., dim)``) to named constrained values and deterministics."""
        z = self._check_z(z, "constrain")
        if not isinstance(z, jax.core.Tracer):
            # Compiled, once per target and shape: op by op, a model's trace cost seconds.
            return compiled("constrain", self._constrain, lambda f: f)(z)
        return self._constrain(z)

    def _constrain(self, z) -> dict[str, jax.Array]:
        keep = {s.name for s in self.sites} | set(self.deterministics)

        def one(zz):
            tr, _ = self.trace_at(zz)
            return {n: s.value for n, s in tr.items() if n in keep}

        if z.ndim == 1:
            return one(z)
        lead = z.shape[:-1]
        out = jax.vmap(one)(z.reshape(-1, self.dim))
        return {k: v.reshape(lead + v.shape[1:]) for k, v in out.items()}

    def unconstrain(self, values: dict[str, Any], *, where: str = "unconstrain: `values`") -> jax.Array:
        """Map ``{site: constrained value}`` for every latent site to the flat vector ``z``.

        Values of deterministic sites are allowed (and ignored). ``where`` names the argument in
        errors, e.g. ``"mle: `init`"``.
        """
        from bayeskit.dist.transforms import biject_to

        latent = [s.name for s in self.sites]
        missing = [name for name in latent if name not in values]
        unknown = [k for k in values if k not in set(latent) | set(self.deterministics)]
        if missing or unknown:
            problems = [f"has no value for latent site(s) {missing}"] if missing else []
            if unknown:
                problems.append(
                    f"gives {unknown}, {'which is not a latent site' if len(unknown) == 1 else 'which are not latent sites'}"
                )
            raise ValueError(
                f"{where} {' and '.join(problems)} of model `{self.name}`; its latent sites are {latent}. "
                "Give one constrained value per latent site."
            )
        values = {k: v for k, v in values.items() if k not in self.deterministics}
        h = Handle(values=values, params=self.params, full_data=True, model_name=self.name, check_values=True)
        self.model(h, *self.args, **self.kwargs)
        parts = []
        for s in self.sites:
            site = h.trace[s.name]
            u = biject_to(site.distribution.support).inverse(site.value)
            parts.append(jnp.reshape(u, (-1,)))
        return jnp.concatenate(parts) if parts else jnp.zeros((0,))

    def init(self, key: jax.Array, radius: float = 2.0) -> jax.Array:
        """Draw a starting point uniformly on ``(-radius, radius)`` in unconstrained space (Stan)."""
        key = check_key(key, "Target.init")
        return jax.random.uniform(
            key, (self.dim,), minval=-radius, maxval=radius, dtype=jnp.result_type(float)
        )

    def nonfinite_sites(self, z) -> list[str]:
        """Names of the sites whose log density, or gradient with respect to ``z``, is not finite.

        Used to explain a failed initialisation: it names the culprits instead of reporting NaN.
        """
        z = self._check_z(z, "nonfinite_sites")

        def per_site(zz):
            tr, jac = self.trace_at(zz)
            out = {n: s.log_prob for n, s in tr.items() if s.kind in ("sample", "factor")}
            out["(jacobian)"] = jac
            return out

        def values_and_gradients(zz):
            values = per_site(zz)
            # One gradient per site, each of that site's summed log density alone: a Jacobian
            # (jacrev) pulls every row back through every site, and a zero cotangent times a
            # site's NaN partial derivative is NaN, so one NaN site made every site look bad.
            grads = {n: jax.grad(lambda w, n=n: jnp.sum(per_site(w)[n]))(zz) for n in values}
            return values, grads

        # Compiled, so that the distributions see traced parameters: a concrete run would stop at
        # the first parameter outside its domain (a zero scale) instead of reporting every site.
        values, grads = jax.jit(values_and_gradients)(z)
        bad = []
        for n, v in values.items():
            if not (np.isfinite(np.asarray(v)).all() and np.isfinite(np.asarray(grads[n])).all()):
                bad.append(n)
        return bad

    def __repr__(self) -> str:
        sites = ", ".join(f"{s.name}{list(s.shape)}" for s in self.sites)
        return f"Target(model={self.name}, dim={self.dim}, latent=[{sites}], observed={list(self.observed)})"


def check_no_random_params(name: str, random: list[str]) -> None:
    """Refuse a model whose ``m.param`` sites draw their value with a random initialiser.

    A conditioned model's log density is a fixed function of its latent values, evaluated with no
    key; such a param would have no value there (or, where a key is at hand, a new one each time).
    """
    if not random:
        return
    example = ", ".join(f'"{n}": ...' for n in random)
    raise ValueError(
        f"model `{name}`: param(s) {random} have a random initialiser (a function of a key), but "
        "the model's log density is a fixed function and has no key to draw them with. Give their "
        f"values with params={{{example}}} (e.g. target({name}, ..., params={{{example}}})), or "
        "an initial value that is a number. Random initialisers are for guides, whose params "
        "bayeskit.vi.custom_guide draws once with its key."
    )


def target(model: Callable, *args, params: dict[str, Any] | None = None, **kwargs) -> Target:
    """Condition ``model`` on its arguments and return a :class:`Target` for inference.

    Every latent (unobserved) sample site must be continuous; its support is mapped to the whole
    real line by the transform of :func:`bayeskit.dist.transforms.biject_to`, and the flat vector
    ``z`` holds all of them in program order.

    Args:
        model: a function ``model(m, *args, **kwargs)`` written in the model language.
        *args, **kwargs: the model's arguments (data, covariates). pandas Series and
            DataFrames that the model cannot compute with under ``jax.jit`` (``a + b * x``)
            become NumPy arrays of their values (a column of strings or categories then raises
            a ``TypeError``: encode it as numbers first); a model that takes their values
            itself (``df["x"].to_numpy()``) gets them as given.
        params: values for the model's ``m.param`` sites, if any.

    Raises:
        TypeError: a model argument is missing.
        ValueError: a latent site is discrete, observed data has the wrong shape or is not
            finite, a site name is duplicated, ``params`` names a site that is not an
            ``m.param``, or an ``m.param`` with a random initialiser has no value in
            ``params``. The message names the site.
        TypeError: observed data that are not numbers (strings, objects), or a pandas argument
            with non-numeric columns (naming the argument and the columns).

    Example:
        >>> t = target(eight_schools, sigma, y=y)
        >>> t.dim, t.logdensity_fn(t.init(jax.random.key(0)))
    """
    from bayeskit.dist.transforms import biject_to

    args, kwargs = model_arguments(model, args, kwargs, params)
    name = model_name(model)
    captured: dict[str, Any] = {}
    handles: list[Handle] = []

    def discover(key):
        h = Handle(key=key, params=params, full_data=True, model_name=name)
        handles.append(h)
        model(h, *args, **kwargs)
        captured["trace"] = h.trace
        captured["random"] = h.randomly_initialised
        return 0

    # Abstract evaluation: shapes and supports without running any numerics.
    with explaining_traced_values(name, handles):
        jax.eval_shape(discover, jax.random.key(0))
    tr: dict[str, Site] = captured["trace"]
    unknown = sorted(set(params or {}) - {n for n, s in tr.items() if s.kind == "param"})
    if unknown:
        known = sorted(n for n, s in tr.items() if s.kind == "param")
        raise ValueError(
            f"model `{name}`: `params` names {unknown}, which are not m.param sites of the model "
            f"(its param sites: {known or 'none'})."
        )

    check_no_random_params(name, captured["random"])

    sites, offset = [], 0
    for s in tr.values():
        if s.kind != "sample" or s.is_observed:
            continue
        d = s.distribution
        if d.is_discrete:
            raise ValueError(
                f"model `{name}`: site `{s.name}` is a discrete latent variable ({type(d).__name__}), "
                "and gradient-based inference (NUTS, HMC, VI, MAP) needs continuous latents. Either "
                "marginalise it out (sum over its values with m.factor, or use MixtureSameFamily), "
                "observe it, or sample it with Gibbs (bayeskit.mcmc.gibbs)."
            )
        try:
            t = biject_to(d.support)
        except (TypeError, ValueError, NotImplementedError) as err:
            raise ValueError(f"model `{name}`: site `{s.name}` has support {d.support!r}: {err}") from None
        shape = tuple(s.value.shape)
        ushape = tuple(t.unconstrained_shape(shape))
        info = SiteInfo(s.name, offset, ushape, shape, repr(d.support))
        sites.append(info)
        offset += info.size
    return Target(
        model=model,
        args=tuple(args),
        kwargs=dict(kwargs),
        params=dict(params or {}),
        sites=tuple(sites),
        deterministics=tuple(n for n, s in tr.items() if s.kind == "deterministic"),
        observed=tuple(n for n, s in tr.items() if s.kind == "sample" and s.is_observed),
        dim=offset,
        name=name,
    )
