"""The walkthrough that ``bayeskit tour`` runs: one module per chapter, in reading order.

Each chapter module defines ``TITLE`` (one line) and ``run(key, console, out)``, where ``key`` is
a ``jax.random`` key, ``console`` a ``rich`` console and ``out`` a folder for figures or ``None``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import time
import zlib
from pathlib import Path

__all__ = ["CHAPTERS", "run_tour"]

# Name -> module, in reading order. Later work appends its chapters here.
CHAPTERS: dict[str, str] = {
    "distributions": "bayeskit.tour.distributions",
    "bayes-rule": "bayeskit.tour.bayes_rule",
    "mle-map": "bayeskit.tour.mle_map",
    "linear-regression": "bayeskit.tour.linear_regression",
    "nuts-regression": "bayeskit.tour.nuts_regression",
    "metropolis": "bayeskit.tour.metropolis",
    "gibbs-mixture": "bayeskit.tour.gibbs_mixture",
    "logistic-regression": "bayeskit.tour.logistic_regression",
    "hierarchical": "bayeskit.tour.hierarchical",
    "variational-inference": "bayeskit.tour.variational_inference",
    "gaussian-processes": "bayeskit.tour.gaussian_processes",
    "vae": "bayeskit.tour.vae",
    "bayesian-deep-learning": "bayeskit.tour.bayesian_deep_learning",
}


def _chapter(name: str):
    return importlib.import_module(CHAPTERS[name])


def _title(name: str) -> str:
    """A chapter's ``TITLE``, read from its source: listing the chapters imports none of them
    (their imports, JAX's and pandas' among them, took 2 s of ``bayeskit tour --list``)."""
    spec = importlib.util.find_spec(CHAPTERS[name])
    if spec is not None and spec.origin is not None:
        for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["TITLE"]
                and isinstance(node.value, ast.Constant)
            ):
                return node.value.value
    return _chapter(name).TITLE  # a title computed at import


def run_tour(
    chapters: list[str] | None = None,
    list_only: bool = False,
    out: str | None = None,
    seed: int = 0,
    compilation_cache: bool = False,
) -> int:
    """Run the named chapters (all by default); return a process exit status.

    With ``compilation_cache`` compiled programs are kept on disk (``$XDG_CACHE_HOME/bayeskit/jax``)
    so that a second run skips most compiling; the ``bayeskit`` command turns it on.
    """
    from rich.console import Console

    console = Console()
    if list_only:
        from rich.table import Table

        # A grid keeps every title in its own column: a long chapter name does not push its
        # title out of line, and a title that wraps continues under itself.
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for name in CHAPTERS:
            table.add_row(name, _title(name))
        console.print(table)
        return 0
    unknown = [c for c in chapters or [] if c not in CHAPTERS]
    if unknown:
        console.print(
            f"[red]error:[/red] unknown chapter(s) {', '.join(unknown)}; "
            f"choose from: {', '.join(CHAPTERS)} (see `bayeskit tour --list`)."
        )
        return 2
    import jax

    # The tour owns its process, so it may choose float64 on the CPU for exact tables.
    jax.config.update("jax_enable_x64", True)
    if compilation_cache:
        from bayeskit._compilation_cache import use_compilation_cache

        use_compilation_cache()
    else:  # the samplers the chapters call would turn it on by default
        os.environ["BAYESKIT_COMPILATION_CACHE"] = "off"
    out_dir = None
    if out is not None:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(seed)  # the one place the seed becomes a key
    names = chapters or list(CHAPTERS)
    for i, name in enumerate(names):
        mod = _chapter(name)
        console.rule(f"[bold]{i + 1}. {mod.TITLE}")
        start = time.perf_counter()
        # Keyed by the chapter's name, so adding or reordering chapters changes no other's numbers.
        mod.run(jax.random.fold_in(key, zlib.crc32(name.encode())), console, out_dir)
        console.print(f"[dim]({name}: {time.perf_counter() - start:.1f} s)[/dim]")
    if out_dir is not None:
        console.print(f"Figures written to {out_dir.resolve()}")
    return 0
