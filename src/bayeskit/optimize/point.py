"""Point estimates: maximum likelihood (MLE) and maximum a posteriori (MAP)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import check_int, check_positive_number
from bayeskit._compilation_cache import use_compilation_cache
from bayeskit._compiled import compiled
from bayeskit._key import check_key
from bayeskit._stacklevel import user_stacklevel
from bayeskit.optimize._lbfgs import minimize_lbfgs
from bayeskit.ppl.target import Target

__all__ = ["OptimizeResult", "mle", "map", "optimize_target"]


@dataclasses.dataclass(frozen=True)
class OptimizeResult:
    """The best optimum over several starts.

    Attributes:
        values: ``{site: value}`` of constrained latent values and deterministics at the optimum.
        z: the optimum as the target's flat unconstrained vector.
        log_density: the maximised objective (log likelihood for MLE, log joint for MAP).
        converged: whether the best start met the gradient tolerance (relative to the value); False
            when it ran to the edge of a site's support (no maximum exists; a warning says so).
        grad_norm: infinity norm of the objective's gradient at the optimum (in ``z``).
        num_iterations: L-BFGS iterations the best start took.
        start_log_densities: the objective reached from every start (spread = multimodality).
    """

    values: dict[str, Any]
    z: jax.Array
    log_density: float
    converged: bool
    grad_norm: float
    num_iterations: int
    start_log_densities: np.ndarray

    def __repr__(self) -> str:
        vals = ", ".join(
            f"{k}={np.round(np.asarray(v), 4).tolist() if np.size(v) <= 6 else f'<{np.shape(v)}>'}"
            for k, v in self.values.items()
        )
        return f"OptimizeResult(log_density={self.log_density:.4f}, converged={self.converged}, {vals})"


def _check_target(fn: str, target) -> None:
    if not isinstance(target, Target):
        raise TypeError(
            f"{fn}: expected a Target (from bayeskit.ppl.target(model, ...)), got {type(target).__name__}."
        )
    if target.dim == 0:
        raise ValueError(f"{fn}: model `{target.name}` has no latent sites to optimise.")


def default_tol() -> float:
    """The default relative gradient tolerance: 1e-9 in float64, 1e-5 in float32 (targets work
    in JAX's default float type)."""
    return 1e-9 if jnp.finfo(jnp.result_type(float)).bits >= 64 else 1e-5


def _as_numbers(fn: str, init) -> jax.Array:
    """A flat ``init`` as a JAX array, with a clear error for what is not an array of numbers."""
    try:
        z0 = jnp.asarray(init)
    except (TypeError, ValueError):
        z0 = None
    if z0 is None or not (jnp.issubdtype(z0.dtype, jnp.number) or z0.dtype == jnp.bool_):
        raise TypeError(
            f"{fn}: `init` must be a dict of constrained site values or an array of unconstrained "
            f"numbers, got {type(init).__name__}."
        )
    return z0


def _no_maximum(fn: str, target: Target, z, values: dict, converged: bool) -> str | None:
    """A message when the best point suggests the log density has no maximum, else None.

    Either a site ran to the edge of its support (non-finite; within a factor 1,000 of the square
    root of the largest float, where a squared value overflows: 1.8e16 in float32; or, on a
    positive support, within that factor of the square root of the smallest normal float: 1.1e-16
    in float32), or the optimiser stopped short of its tolerance with a constrained site far out
    in unconstrained space (|z| > 20), the slow way there (float64 needs thousands of iterations).
    A stop short of the tolerance elsewhere is common and harmless at a kink (a Laplace prior's
    lasso solution): ``converged`` says so, without a warning.
    """
    edge, far = [], []
    for site in target.sites:
        v = np.asarray(values[site.name])
        if not np.issubdtype(v.dtype, np.floating):
            continue
        info = np.finfo(v.dtype)
        if (
            not np.all(np.isfinite(v))
            or np.any(np.abs(v) >= np.sqrt(info.max) / 1e3)
            or (site.support == "positive" and np.any(v <= np.sqrt(info.tiny) * 1e3))
        ):
            edge.append(site.name)
        elif not converged and site.support != "real":
            if np.any(np.abs(np.asarray(z[site.offset : site.offset + site.size])) > 20):
                far.append(site.name)
    if not edge and not far:
        return None
    name = (edge or far)[0]
    shown = np.array2string(np.asarray(values[name]), precision=3, threshold=6)
    if edge:
        what = f"site(s) {edge} of model `{target.name}` ran to the edge of their support"
        verdict = "the log density keeps growing there, so it has no maximum and this is no estimate"
    else:
        what = (
            f"L-BFGS stopped short of its tolerance with site(s) {far} of model `{target.name}` far "
            "out in unconstrained space (|z| > 20), heading for the edge of their support"
        )
        verdict = "the log density may keep growing there, and then it has no maximum and this is no estimate"
    hint = (
        "add priors that bound it and use optimize.map"
        if fn == "mle"
        else "give that site a prior with no mass at the edge (for a scale: Gamma(2, b) or "
        "LogNormal rather than HalfNormal)"
    )
    return (
        f"{fn}: {what} (`{name}` = {shown}): {verdict}. Look for an improper or unbounded density (a scale "
        f"free to shrink to 0 where a mean can sit on the data, separable classes), or {hint}."
    )


def optimize_target(
    fn: str,
    key: jax.Array,
    target: Target,
    objective,
    num_starts: int,
    max_iterations: int,
    tol: float,
    init=None,
    compilation_cache: bool = True,
    at_edge: str = "warn",
) -> OptimizeResult:
    """Maximise ``objective(z)`` from ``num_starts`` starting points; return the best.

    A best point that suggests no maximum exists (:func:`_no_maximum`: a site at the edge of its
    support, or far out toward it short of the tolerance) is a ``RuntimeWarning`` and
    ``converged`` is False; with ``at_edge="raise"`` it is a ``FloatingPointError``.
    """
    _check_target(fn, target)
    if compilation_cache:
        use_compilation_cache()
    num_starts = check_int(fn, "num_starts", num_starts)
    max_iterations = check_int(fn, "max_iterations", max_iterations)
    tol = default_tol() if tol is None else check_positive_number(fn, "tol", tol)
    if init is not None:
        z0 = jnp.atleast_2d(
            target.unconstrain(init, where=f"{fn}: `init`")
            if isinstance(init, dict)
            else _as_numbers(fn, init)
        )
        if z0.ndim != 2 or z0.shape[1] != target.dim:
            raise ValueError(
                f"{fn}: `init` gives shape {tuple(jnp.shape(init))}; expected ({target.dim},) or "
                f"(num_starts, {target.dim}) unconstrained values, or a dict of constrained site values."
            )
        # The optimiser's loop carries z, the value and the gradient in one dtype: that of the
        # target's own starting points (JAX's default float). A float32 or integer `init` under x64
        # raised a raw JAX error (cond branches of unequal types; an integer z could not step).
        z0 = z0.astype(jnp.result_type(float))
    else:
        z0 = compiled("init", target.init, jax.vmap)(jax.random.split(key, num_starts))
    res = minimize_lbfgs(objective, z0, max_iterations=max_iterations, tol=tol, maximize=True)
    values = np.asarray(-res.value)
    finite = np.isfinite(values)
    if not finite.any():
        bad = target.nonfinite_sites(z0[0])
        raise FloatingPointError(
            f"{fn}: every start of model `{target.name}` reached a non-finite log density"
            + (f"; the site(s) {bad} are not finite at the first start" if bad else "")
            + ". Check the priors' supports and the data, or pass `init`."
        )
    best = int(np.argmax(np.where(finite, values, -np.inf)))
    z = res.z[best]
    constrained = target.constrain(z)  # compiled once per target (Target.constrain)
    converged = bool(res.grad_norm[best] < tol * max(1.0, abs(float(values[best]))))
    message = _no_maximum(fn, target, z, constrained, converged)
    if message is not None:
        converged = False
        if at_edge == "raise":
            raise FloatingPointError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=user_stacklevel())
    return OptimizeResult(
        values=constrained,
        z=z,
        log_density=float(values[best]),
        converged=converged,
        grad_norm=float(res.grad_norm[best]),
        num_iterations=int(res.num_iterations[best]),
        start_log_densities=values,
    )


def mle(
    key: jax.Array,
    target: Target,
    num_starts: int = 4,
    max_iterations: int = 1000,
    tol: float | None = None,
    init=None,
    compilation_cache: bool = True,
) -> OptimizeResult:
    """Maximum likelihood: maximise log p(data | theta), ignoring the priors of latent sites.

    Latent sites are optimised in unconstrained space without the Jacobian, so the optimum is
    the MLE of the constrained parameters (the MLE is invariant to reparameterisation).

    Args:
        key: a ``jax.random`` key for the starting points.
        target: the conditioned model, ``bayeskit.ppl.target(model, ...)``.
        num_starts: independent L-BFGS runs from uniform(-2, 2) unconstrained starts.
        max_iterations: L-BFGS iterations per start.
        tol: stop when every gradient component is below ``tol * max(1, |objective|)``
            (default 1e-9 in float64, 1e-5 in float32: rounding error in a gradient grows with
            the sum of log densities it differentiates).
        init: optional starting point: a dict of constrained values or a flat vector.
        compilation_cache: keep the compiled optimiser on disk (:func:`bayeskit.use_compilation_cache`,
            as :func:`bayeskit.mcmc.sample` does), so that the same model in a later process skips
            most of its compiling.

    Example:
        >>> res = mle(jax.random.key(0), target(gaussian_model, y=y))
        >>> res.values["mu"], res.values["sigma"]   # sample mean, biased sd
    """
    key = check_key(key, "optimize.mle")
    _check_target("mle", target)
    return optimize_target(
        "mle", key, target, target.log_likelihood_fn, num_starts, max_iterations, tol, init, compilation_cache
    )


def map(  # noqa: A001 - the conventional name of the estimator
    key: jax.Array,
    target: Target,
    num_starts: int = 4,
    max_iterations: int = 1000,
    tol: float | None = None,
    init=None,
    compilation_cache: bool = True,
) -> OptimizeResult:
    """Maximum a posteriori: maximise log p(data | theta) + log p(theta) over constrained theta.

    The mode is that of the posterior density of the constrained parameters (no Jacobian), the
    same as the penalised-likelihood view: a Normal(0, s) prior on regression weights is ridge
    regression with penalty 1/(2 s^2), a Laplace(0, b) prior is the lasso with penalty 1/b.

    Arguments as for :func:`mle`.
    """
    key = check_key(key, "optimize.map")
    _check_target("map", target)
    return optimize_target(
        "map", key, target, _LogPosterior(target), num_starts, max_iterations, tol, init, compilation_cache
    )


@dataclasses.dataclass(frozen=True)
class _LogPosterior:
    """log p(data | theta) + log p(theta) at unconstrained z, no Jacobian: MAP's objective.

    An object rather than a lambda, so that its compiled optimiser is found again for the same
    target (it compares equal when its target is the same object)."""

    target: Target

    def __call__(self, z):
        return self.target.log_prior_fn(z) + self.target.log_likelihood_fn(z)
