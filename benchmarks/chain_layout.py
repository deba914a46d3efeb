"""How a CPU device runs its chains: one after another (``lax.map``, the default for up to 8 per
device) or batched (``vmap``), measured on ``mcmc_peers.py``'s four models, cold, in fresh processes.

Each run is ``bayeskit.mcmc.sample`` with 4 chains x (1,000 + 1,000) on 2 host devices, no
persistent cache, in a new Python process (so every compile is cold), the two layouts interleaved,
``--repeats`` times each. Reported per model and layout: the median wall time, main-loop compile
time (``info["compile_time"]``), warmup + sampling loop time, and min bulk ESS, and the ratio of the
medians (batched / in turn). Draws differ between layouts only through floating-point rounding in
batched arithmetic, which NUTS's discrete choices can amplify, so the ESS columns differ by chance.

Run:  python benchmarks/chain_layout.py [--repeats 3]
Writes results/chain_layout.json and results/chain_layout.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
MODELS = ("eight_schools", "logistic", "hierarchical", "gaussian_100d")
LAYOUTS = {"in turn (lax.map)": 8, "batched (vmap)": 0}

_WORKER = """
import importlib, json, os, sys, time
os.environ["BAYESKIT_COMPILATION_CACHE"] = "off"
sys.argv = [sys.argv[0]]
sys.path.insert(0, {bench!r})
import mcmc_peers as mp  # sets 2 host devices and float64 before JAX starts
import jax, numpy as np
from bayeskit.diagnostics import ess_bulk
from bayeskit.mcmc import sample
importlib.import_module("bayeskit.mcmc.sample").MAP_CHAINS_UP_TO = {limit}
model = mp.MODELS[{model!r}]()
start = time.perf_counter()
post = sample(jax.random.key(20240611), model.bayeskit_target(), num_chains=4, progress_bar=False, warn=False)
draws = {{n: np.asarray(post.draws[n]) for n, _, _ in model.params}}
wall = time.perf_counter() - start
ess = min(float(np.min(ess_bulk(v))) for v in draws.values())
print(json.dumps({{"wall_s": wall, "compile_s": post.info["compile_time"],
                  "loop_s": post.info["sampling_time"], "min_ess": ess}}))
"""


def run_one(model: str, limit: int) -> dict:
    code = _WORKER.format(bench=str(Path(__file__).parent), limit=limit, model=model)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args()
    runs = {m: {layout: [] for layout in LAYOUTS} for m in args.models}
    for m in args.models:
        for r in range(args.repeats):
            for layout, limit in LAYOUTS.items():
                res = run_one(m, limit)
                runs[m][layout].append(res)
                print(
                    f"{m:14s} {layout:18s} #{r + 1}: wall {res['wall_s']:.2f} s, compile "
                    f"{res['compile_s']:.2f} s, loops {res['loop_s']:.2f} s, min ESS {res['min_ess']:.0f}",
                    flush=True,
                )
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU cores, {platform.platform()}",
        "repeats": args.repeats,
        "load_end": os.getloadavg()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chain_layout.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    lines = [
        "# Chains on a CPU device: in turn (lax.map) or batched (vmap)",
        "",
        f"{meta['date']}, {meta['machine']}; `python benchmarks/chain_layout.py --repeats {args.repeats}`. "
        "bayeskit NUTS, 4 chains x (1,000 + 1,000) on 2 host devices, each run cold in a fresh process; "
        "medians of the repeats, layouts interleaved. See the script's docstring.",
        "",
        "| model | layout | wall (s) | main-loop compile (s) | warmup + sampling loops (s) | min bulk ESS | ESS/s |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for m, by_layout in runs.items():
        med = {}
        for layout, rs in by_layout.items():
            med[layout] = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
            md = med[layout]
            lines.append(
                f"| {m} | {layout} | {md['wall_s']:.2f} | {md['compile_s']:.2f} | {md['loop_s']:.2f} | "
                f"{md['min_ess']:.0f} | {md['min_ess'] / md['wall_s']:.0f} |"
            )
        a, b = med["in turn (lax.map)"], med["batched (vmap)"]
        ratios.append(
            f"| {m} | {b['wall_s'] / a['wall_s']:.2f} | {b['compile_s'] / a['compile_s']:.2f} | "
            f"{b['loop_s'] / a['loop_s']:.2f} |"
        )
    lines += [
        "",
        "Batched over in turn (above 1: running the chains in turn is faster):",
        "",
        "| model | wall | compile | loops |",
        "|---|---|---|---|",
        *ratios,
    ]
    (RESULTS / "chain_layout.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
