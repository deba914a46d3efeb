"""Figure helpers for the tour: a headless matplotlib and one place that saves PNGs."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """Return ``matplotlib.pyplot`` on the non-interactive Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: Path, name: str, console) -> None:
    """Save ``fig`` as ``out/name.png``, close it, and say where it went."""
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    console.print(f"  figure: {path}")
