"""Return a copy of an estimator with its fitted fields set (``fit`` never mutates)."""

from __future__ import annotations

import dataclasses

__all__ = ["with_fitted"]


def with_fitted(module, **changes):
    """A shallow copy of the frozen ``module`` with ``changes`` applied, bypassing ``__init__``.

    ``eqx.tree_at`` cannot replace a ``None`` field (it is not a leaf), and ``dataclasses.replace``
    would call the estimator's user-facing ``__init__``; fitted fields are set directly instead.
    """
    new = object.__new__(type(module))
    for field in dataclasses.fields(module):
        object.__setattr__(new, field.name, changes.pop(field.name, getattr(module, field.name)))
    if changes:
        raise TypeError(f"with_fitted: {type(module).__name__} has no field(s) {sorted(changes)}.")
    return new
