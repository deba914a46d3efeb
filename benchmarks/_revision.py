"""The bayeskit a benchmark measured: its version, commit, and whether ``src/`` differed from it."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository


def bayeskit_version() -> str:
    """``"0.1.0 (de8acfe)"``, or ``"0.1.0 (de8acfe, src modified)"`` for uncommitted changes to
    ``src/``; the bare version outside a git checkout."""
    version = importlib.metadata.version("bayeskit")
    git = ["git", "-C", str(ROOT)]
    try:
        commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "src"], capture_output=True, text=True)
    except OSError:  # no git
        return version
    if commit.returncode != 0:
        return version
    return f"{version} ({commit.stdout.strip()}{', src modified' if dirty.stdout.strip() else ''})"
