"""ESS per gradient evaluation over several seeds: bayeskit NUTS against NumPyro, BlackJAX and nutpie.

``mcmc_peers.py`` runs each library once, at one seed, and the minimum bulk ESS of a single run is
noisy: on the hierarchical model one seed's ESS per gradient ranges over 0.022-0.030 for the same
sampler. The issue's second goal ("no worse ESS per gradient") is about the samplers, not one
seed's luck, so this script runs every library on every model of ``mcmc_peers.py`` at seeds
0..N-1 and compares the means.

Each run is the same as in ``mcmc_peers.py`` (its runners, models, 4 chains x (1,000 warmup +
1,000 draws), defaults everywhere, float64): minimum bulk ESS over all scalar parameters
(``bayeskit.diagnostics.ess_bulk``) over the leapfrog steps of the kept draws. Seed s means
``jax.random.key(s)`` for the JAX libraries and ``seed=s`` for nutpie: the libraries' random streams
differ, so only the means over seeds are comparable. Wall times are not reported (compiling is
repeated per seed and the runs are back to back); ``mcmc_peers.py`` measures speed.

Run:  python benchmarks/ess_per_gradient.py                (5 seeds; writes results/ess_per_gradient.{json,md})
      python benchmarks/ess_per_gradient.py --seeds 3 --models hierarchical
      python benchmarks/ess_per_gradient.py --libraries bayeskit --merge
            (reruns bayeskit only and keeps the peers' rows of the committed results, with the
            date each library was measured; for a change to bayeskit, the peers being unchanged)
      BAYESKIT_FINAL_STEP_SIZE=fitted python benchmarks/ess_per_gradient.py --libraries bayeskit --merge
            (bayeskit with ``sample(..., final_step_size="fitted")``, or ``averaged`` for Stan's; it
            writes over the results: the committed results of "fitted" are in commit 3366146, those
            of "averaged", the default then, in de8acfe)
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import mcmc_peers as peers  # noqa: E402  (sets up JAX: float64, 2 host devices, no compile cache)

RESULTS = Path(__file__).parent / "results"


def run(model_name: str, lib: str, seeds: int) -> list[dict]:
    model = peers.MODELS[model_name]()
    rows = []
    for seed in range(seeds):
        r = peers.RUNNERS[lib](model, seed, 1000, 1000)
        ess, where = peers.min_bulk_ess(r["draws"])
        rows.append(
            {
                "seed": seed,
                "min_ess_bulk": float(ess),
                "where": where,
                "grad_evals": int(r["grad_evals"]),
                "ess_per_grad": float(ess / r["grad_evals"]),
                "divergences": int(r["divergences"]),
            }
        )
        print(
            f"  {model_name:14s} {lib:9s} seed {seed}  ESS {ess:7.0f} ({where})  grads {r['grad_evals']:7d}  "
            f"ESS/grad {ess / r['grad_evals']:.4f}",
            flush=True,
        )
    return rows


def mean_se(values: list[float]) -> tuple[float, float]:
    x = np.asarray(values)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan


def render(meta: dict, results: dict) -> str:
    libs = meta["libraries"]
    lines = [
        "# ESS per gradient over seeds: bayeskit NUTS vs NumPyro, BlackJAX and nutpie",
        "",
        f"{meta['date']} on {meta['cpu']}; {meta['seeds']} seeds (0-{meta['seeds'] - 1}) per library and model, "
        "4 chains x (1,000 warmup + 1,000 draws), float64, every library's defaults (the models and runners "
        "of `mcmc_peers.py`). Cell: mean ± standard error over seeds of the minimum bulk ESS over all scalar "
        "parameters per leapfrog step of the kept draws. The libraries' random streams differ, so single "
        "seeds are not paired; compare means. Reproduce: `python benchmarks/ess_per_gradient.py`.",
        "",
        "**Goal (issue 3)**: bayeskit's ESS per gradient no worse than the best peer's.",
        "",
        *(
            [
                "Measured: "
                + "; ".join(f"{lib} {date}" for lib, date in meta["measured"].items())
                + " (`--merge` keeps the rows of the libraries not rerun).",
                "",
            ]
            if len(set(meta.get("measured", {}).values())) > 1
            else []
        ),
        "| model | " + " | ".join(libs) + " | bayeskit / best peer | within 2 SE |",
        "|---|" + "---|" * (len(libs) + 2),
    ]
    for name, by_lib in results.items():
        stats = {lib: mean_se([r["ess_per_grad"] for r in by_lib[lib]]) for lib in libs if lib in by_lib}
        cells = [f"{m:.4f} ± {s:.4f}" for m, s in (stats.get(lib, (math.nan, math.nan)) for lib in libs)]
        peers_only = {lib: v for lib, v in stats.items() if lib != "bayeskit"}
        if "bayeskit" in stats and peers_only:
            best = max(peers_only, key=lambda lib: peers_only[lib][0])
            (m, s), (pm, ps) = stats["bayeskit"], peers_only[best]
            ratio = f"{m / pm:.2f} ({best})"
            close = "yes" if m >= pm or (pm - m) <= 2 * math.hypot(s, ps) else "no"
        else:
            ratio = close = "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} | {close} |")
    lines += [
        "",
        "Per-seed values (ESS per gradient):",
        "",
        "| model | library | " + " | ".join(f"seed {s}" for s in range(meta["seeds"])) + " |",
        "|---|---|" + "---|" * meta["seeds"],
    ]
    for name, by_lib in results.items():
        for lib in libs:
            if lib in by_lib:
                values = " | ".join(f"{r['ess_per_grad']:.4f}" for r in by_lib[lib])
                lines.append(f"| {name} | {lib} | {values} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", nargs="+", choices=list(peers.MODELS), default=list(peers.MODELS))
    parser.add_argument(
        "--libraries", nargs="+", choices=list(peers.LIBRARIES), default=list(peers.LIBRARIES)
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the committed results of the libraries and models not run (same seeds only)",
    )
    args = parser.parse_args(argv)
    libs = [lib for lib in peers.LIBRARIES if lib in args.libraries]
    started = time.perf_counter()
    peers.warm_up()
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    results = {name: {lib: run(name, lib, args.seeds) for lib in libs} for name in args.models}
    measured = {lib: now for lib in libs}
    if args.merge:
        old = json.loads((RESULTS / "ess_per_gradient.json").read_text())
        if old["meta"]["seeds"] != args.seeds:
            parser.error(
                f"--merge: the committed results have {old['meta']['seeds']} seeds, not {args.seeds}"
            )
        old_dates = old["meta"].get("measured") or dict.fromkeys(
            old["meta"]["libraries"], old["meta"]["date"]
        )
        for name, by_lib in old["results"].items():
            for lib, rows in by_lib.items():
                if lib not in results.get(name, {}):
                    results.setdefault(name, {})[lib] = rows
                    measured.setdefault(lib, old_dates[lib])
        libs = [lib for lib in peers.LIBRARIES if lib in measured]
        results = {name: results[name] for name in peers.MODELS if name in results}
    meta = {
        "date": now,
        "cpu": peers.cpu_name(),
        "versions": peers.versions(),
        "seeds": args.seeds,
        "libraries": libs,
        "measured": measured,
        "total_s": time.perf_counter() - started,
    }
    text = render(meta, results)
    print("\n" + text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ess_per_gradient.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1) + "\n"
    )
    (RESULTS / "ess_per_gradient.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
