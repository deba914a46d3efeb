"""The ``bayeskit`` command: a thin shell over the public API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from bayeskit import __version__

    p = argparse.ArgumentParser(
        prog="bayeskit",
        description="bayeskit: probabilistic machine learning on JAX.",
    )
    p.add_argument("--version", action="version", version=f"bayeskit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    tour = sub.add_parser(
        "tour",
        help="walk through bayeskit's features on embedded data",
        description="Run the walkthrough: each chapter computes, prints tables and (with --out) saves figures.",
    )
    tour.add_argument("--chapter", action="append", metavar="NAME", help="run only this chapter (repeatable)")
    tour.add_argument("--list", action="store_true", help="list the chapters and exit")
    tour.add_argument("--out", metavar="DIR", help="write figures (PNG) to this folder")
    tour.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tour.add_argument(
        "--no-cache",
        action="store_true",
        help="do not keep compiled functions on disk (by default they are cached in "
        "$XDG_CACHE_HOME/bayeskit/jax, so a second run skips most compiling)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    if args.command == "tour":
        if args.out is not None and not args.list:
            try:  # before any chapter runs: a bad folder is a one-line error, not a traceback later
                Path(args.out).mkdir(parents=True, exist_ok=True)
            except OSError as err:
                print(
                    f"bayeskit tour: error: cannot write figures to --out {args.out!r}: {err.strerror or err}",
                    file=sys.stderr,
                )
                return 2
        from bayeskit.tour import run_tour

        if not args.list:  # listing the chapters imports no chapter, nor JAX
            from bayeskit import use_cpu_cores

            try:
                use_cpu_cores()  # the chapters' chains run in parallel, one CPU device per core
            except RuntimeError:  # JAX already started in this process (main called from Python)
                pass

        return run_tour(
            chapters=args.chapter,
            list_only=args.list,
            out=args.out,
            seed=args.seed,
            compilation_cache=not args.no_cache,
        )
    return 2  # argparse rejects unknown commands before this


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
