"""The ``stacklevel`` that points a warning at the user's own line of code.

A fixed ``stacklevel`` counts frames, and bayeskit's depth differs from call to call (equinox
wraps the methods of modules in a frame of its own, a public function may call another), so a
fixed count often named a line inside bayeskit or equinox. :func:`user_stacklevel` walks out to the
first frame that belongs to neither.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import equinox

__all__ = ["user_stacklevel"]

# bayeskit's own folder and equinox's (whose module methods are wrapped in frames of its own).
_INTERNAL = tuple(str(folder) + os.sep for folder in (Path(__file__).parent, Path(equinox.__file__).parent))


def _internal(filename: str) -> bool:
    return filename.startswith(_INTERNAL)


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called by this function's caller: the first frame
    outside bayeskit and equinox."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level
