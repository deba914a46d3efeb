"""Compiled programs kept per target: ``compiled(kind, target.method, build)``.

Used wherever bayeskit runs a target's functions outside a transformation it was given (the
optimisers, the Laplace Hessian, ``Target.constrain`` on concrete values): run op by op, each
operation of a model is dispatched and compiled on its own, which cost seconds on small models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import weakref
from collections.abc import Callable

import jax

__all__ = ["compile_lowered", "compiled"]

# Compiled programs kept per target, so that fitting the same target again (``map`` then
# ``laplace``, or ``vi.fit`` with another guide, which starts from a Laplace fit) does not compile
# again: about 1.5 s for L-BFGS on a small model. The programs live as long as their target: the
# table holds the target weakly, and the programs reach it through a weak reference, so dropping
# a target frees its programs (and the data they hold) as it would without the cache.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _owner(fun: Callable):
    """``(target, identity, rebind)`` for an objective tied to one object, else ``None``.

    A bound method (``target.logdensity_fn``) is identified by its function; a one-field dataclass
    objective (``_LogPosterior(target)``) by its class. ``rebind(target)`` makes it again.
    """
    owner, func = getattr(fun, "__self__", None), getattr(fun, "__func__", None)
    if owner is not None and func is not None:
        return owner, func, lambda o: types.MethodType(func, o)
    fields = dataclasses.fields(fun) if dataclasses.is_dataclass(fun) and not isinstance(fun, type) else ()
    if len(fields) == 1:
        cls = type(fun)
        return getattr(fun, fields[0].name), cls, cls
    return None


def compiled(kind: str, fun: Callable, build: Callable[[Callable], Callable], *static) -> Callable:
    """``jax.jit(build(fun))``, reused for the same ``(kind, fun, *static)`` while ``fun``'s target lives."""
    found = _owner(fun)
    if found is None:
        return jax.jit(build(fun))
    owner, identity, rebind = found
    try:
        programs = _CACHE.setdefault(owner, {})
    except TypeError:  # not weakly referenceable or not hashable: compile as before
        return jax.jit(build(fun))
    key = (kind, identity, *static)
    if key not in programs:
        ref = weakref.ref(owner)
        programs[key] = jax.jit(build(lambda *args: rebind(ref())(*args)))
    return programs[key]


def compile_lowered(owner, lowered):
    """``lowered.compile()``, reused while ``owner`` (a target) lives for a program of the same text.

    For programs built afresh on every call (a new closure each time, so ``jax.jit``'s own cache
    never hits) whose text is the same whenever what they compute is: ``vi.fit``'s step loop.
    With ``owner`` None (or not weakly referenceable) it compiles every time.
    """
    if owner is None:
        return lowered.compile()
    try:
        programs = _CACHE.setdefault(owner, {})
    except TypeError:
        return lowered.compile()
    key = ("lowered", hashlib.sha256(lowered.as_text().encode()).hexdigest())
    if key not in programs:
        programs[key] = lowered.compile()
    return programs[key]
