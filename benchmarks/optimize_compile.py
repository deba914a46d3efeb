"""Time to a point estimate: `optimize.mle`/`map`/`laplace` and `vi.fit`, first call and again.

On small models these calls are almost all compiling; the second call on the same target reuses
the compiled L-BFGS run, Hessian and constrain (`bayeskit._compiled.compiled`), and a
`vi.fit` reuses the Laplace start and the step loop of an earlier fit on the same target. Each
call runs three times: first, again with the same key, and with another key (another seed: a
different start, the same programs). Model: a logistic regression, n = 500, d = 10 plus an
intercept, float64. Each call is timed once, in the order below, in one fresh process; the
numbers are wall seconds and include compiling.

The disk cache of compiled programs (on by default) starts empty: the script points
``BAYESKIT_COMPILATION_CACHE`` at a new temporary folder, so "first" is a cold start.
``--before FILE`` adds the columns of an earlier run's JSON (e.g. the same script run on an
older commit).

Run:  python benchmarks/optimize_compile.py [--before old.json]   (writes results/optimize_compile.{json,md})
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ["BAYESKIT_COMPILATION_CACHE"] = tempfile.mkdtemp(prefix="bayeskit-optimize-compile-")

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import bayeskit  # noqa: E402
import bayeskit.dist as dist  # noqa: E402
from bayeskit import optimize, vi  # noqa: E402
from bayeskit.datasets import make_classification  # noqa: E402
from bayeskit.ppl import target  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def logistic(m, X, y):
    w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    b = m.sample("b", dist.Normal(0.0, 5.0))
    m.sample("y", dist.Bernoulli(logits=X @ w + b).to_event(1), obs=y)


def _commit() -> str:
    """The checkout's commit (short hash), or "unknown" outside git."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True
        )
        return f"commit {out.stdout.strip()}" if out.returncode == 0 else "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an earlier run's JSON, shown beside this one")
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else None
    data = make_classification(jax.random.key(0), num_samples=500, num_features=10)
    t = target(logistic, jnp.asarray(data.X), y=jnp.asarray(data.y, jnp.float64))
    calls = {
        "optimize.mle": lambda key: optimize.mle(key, t),
        "optimize.map": lambda key: optimize.map(key, t),
        "optimize.laplace": lambda key: optimize.laplace(key, t),
        "vi.fit meanfield (2,000 steps)": lambda key: vi.fit(
            key, t, "meanfield", num_steps=2000, progress_bar=False
        ),
        "vi.fit fullrank (2,000 steps)": lambda key: vi.fit(
            key, t, "fullrank", num_steps=2000, progress_bar=False
        ),
    }
    rows = []
    for name, call in calls.items():
        times = []
        for seed in (1, 1, 2):  # first, again with the same key, with another key
            t0 = time.perf_counter()
            jax.block_until_ready(jax.tree.leaves(call(jax.random.key(seed))))
            times.append(time.perf_counter() - t0)
        rows.append({"call": name, "first_s": times[0], "again_s": times[1], "another_key_s": times[2]})
        print(f"{name:34s} first {times[0]:6.2f} s   again {times[1]:6.3f} s   another key {times[2]:6.3f} s")
    meta = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "versions": {"jax": jax.__version__, "bayeskit": bayeskit.__version__, "numpy": np.__version__},
        "model": "logistic regression, n = 500, d = 10 + intercept, float64",
        "commit": _commit(),
    }
    payload = {"meta": meta, "rows": rows}
    if before is not None:
        payload["before"] = {"meta": before["meta"], "rows": before["rows"]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "optimize_compile.json").write_text(json.dumps(payload, indent=2))
    lines = [
        "# Time to a point estimate or a VI fit: first call and again on the same target",
        "",
        f"Machine: {meta['machine']}. Versions: {meta['versions']}. Model: {meta['model']}. "
        "Wall seconds, compiling included, each call timed once in this order in one process "
        "(`python benchmarks/optimize_compile.py`).",
        "",
        "| call | first (s) | again, same target and key (s) | again, another key (s) |"
        + (" before: first (s) | before: again (s) | before: another key (s) |" if before else ""),
        "|---|---|---|---|" + ("---|---|---|" if before else ""),
    ]
    old = {r["call"]: r for r in before["rows"]} if before else {}
    shown = lambda r, k, f: format(r[k], f) if k in r else "-"  # noqa: E731 (older runs lack a column)
    for r in rows:
        line = (
            f"| {r['call']} | {r['first_s']:.2f} | {r['again_s']:.3f} | {shown(r, 'another_key_s', '.3f')} |"
        )
        if r["call"] in old:
            o = old[r["call"]]
            line += f" {o['first_s']:.2f} | {o['again_s']:.3f} | {shown(o, 'another_key_s', '.3f')} |"
        elif before:
            line += " - | - | - |"
        lines.append(line)
    if before:
        lines += [
            "",
            f"Before: {before['meta'].get('commit', 'an earlier run')} ({before['meta']['machine']}).",
        ]
    (RESULTS / "optimize_compile.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
