"""Does bayeskit's NUTS get the posteriordb reference posteriors right?

For each posterior of the DEV set in ``../shared/data/posteriordb`` (models and data steps in
``posteriordb_models.py``), run ``bayeskit.mcmc.sample`` with its defaults (4 chains x 1000
warmup + 1000 draws, diagonal mass matrix) except that ``target_accept`` / ``max_tree_depth``
follow Stan where the posteriordb README says its reference run needed higher ones. A posterior
passes when every reference quantity's mean is within 0.3 reference sd, its sd within 20% of
the reference sd, and R-hat < 1.01.

Gradient evaluations are the leapfrog steps of the 4 x 1000 kept draws (the driver does not
report warmup's); wall time is the whole ``sample`` call (initialisation, compilation, warmup
and sampling).

Pass or fail at one seed is partly luck: a max R-hat of 1.0106 against the 1.01 line is noise
at these ESS, and a chain can be caught in a region it cannot leave. ``--seeds N`` runs every
posterior at seeds 0 to N-1 and counts the passes (results/posteriordb_seeds.{json,md}).

Run:  python benchmarks/posteriordb.py               (writes results/posteriordb.{json,md})
      python benchmarks/posteriordb.py --only NAME   (one posterior; merged into the results)
      python benchmarks/posteriordb.py --quick       (300 + 300 iterations; writes nothing)
      python benchmarks/posteriordb.py --seeds 4 --skip diamonds-diamonds
                                                     (pass counts over seeds 0-3, about 4 min)
      BAYESKIT_FINAL_STEP_SIZE=fitted python benchmarks/posteriordb.py ...
                                                     (sample(..., final_step_size="fitted"), or
                                                     "averaged" for Stan's; the results of "fitted"
                                                     are in commit 3366146, of "averaged" in de8acfe)
"""

from __future__ import annotations

import os

# Two host devices, so that the driver shards the chains over both cores (set before jax loads).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, str(Path(__file__).parent))
import posteriordb_models as pdb  # noqa: E402

from bayeskit.mcmc import sample  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run_one(name: str, key, num_warmup: int, num_samples: int, root: Path) -> dict:
    """Sample one posterior and judge it against its reference."""
    spec = pdb.POSTERIORS[name]
    t = pdb.load_target(name, root)
    start = time.perf_counter()
    post = sample(
        key,
        t,
        num_chains=4,
        num_warmup=num_warmup,
        num_samples=num_samples,
        target_accept=spec.target_accept,
        max_tree_depth=spec.max_tree_depth,
        final_step_size=os.environ.get("BAYESKIT_FINAL_STEP_SIZE"),
        progress_bar=False,
        warn=False,
    )
    wall = time.perf_counter() - start
    check = pdb.compare(post.draws, pdb.load_reference(name, root))
    stats = post.sample_stats
    return {
        "name": name,
        "dim": t.dim,
        "settings": {
            "num_chains": 4,
            "num_warmup": num_warmup,
            "num_samples": num_samples,
            "target_accept": post.info["target_accept"],
            "max_tree_depth": spec.max_tree_depth,
        },
        **{k: v for k, v in check.items() if k != "quantities"},
        "divergences": int(stats["diverging"].sum()),
        "mean_tree_depth": float(stats["tree_depth"].mean()),
        "max_tree_depth_hits": int((stats["tree_depth"] >= spec.max_tree_depth).sum()),
        "step_size": [float(s) for s in post.info["step_size"]],
        "gradient_evaluations": int(stats["num_steps"].sum()),
        "wall_time": wall,
        "compile_time": post.info["compile_time"],
        "sampling_time": post.info["sampling_time"],
        "min_ess_bulk_per_second": check["min_ess_bulk"] / wall,
        "warnings": post.warnings,
        "quantities": check["quantities"],
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def render(results: list[dict], meta: dict) -> str:
    """The markdown report: a summary table, then one table of quantities per posterior."""
    n_pass = sum(r["passed"] for r in results)
    lines = [
        "# posteriordb DEV set: bayeskit NUTS vs the reference posteriors",
        "",
        f"{n_pass} of {len(results)} pass. Criteria: every reference quantity's |mean - ref mean| < "
        f"{pdb.MEAN_TOL} ref sd, |sd / ref sd - 1| < {pdb.SD_TOL}, R-hat < {pdb.RHAT_MAX}. "
        f"4 chains x {meta['num_warmup']} warmup + {meta['num_samples']} draws, diagonal mass matrix; "
        "target_accept / max_tree_depth raised only where the Stan reference needed them.",
        "",
        f"JAX {meta['jax']}, {meta['platform']}, {meta['devices']} host devices, float64. Wall time is the "
        "whole `sample` call (compile included); gradient evaluations are the leapfrog steps of the "
        "kept draws (warmup not counted).",
        "",
        "| posterior | dim | result | worst mean err (sd) | worst sd ratio | max R-hat | min bulk ESS "
        "| divergences | accept / depth | wall (s) | compile (s) | grad evals | min ESS/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["settings"]
        lines.append(
            f"| `{r['name']}` | {r['dim']} | {'pass' if r['passed'] else '**FAIL**'} | "
            f"{r['worst_mean_err']:.3f} | {r['worst_sd_ratio']:.3f} | {r['max_rhat']:.4f} | "
            f"{r['min_ess_bulk']:.0f} | {r['divergences']} | {s['target_accept']} / {s['max_tree_depth']} | "
            f"{r['wall_time']:.1f} | {r['compile_time']:.1f} | {r['gradient_evaluations']:,} | "
            f"{r['min_ess_bulk_per_second']:.1f} |"
        )
    total = sum(r["wall_time"] for r in results)
    lines += ["", f"Total wall time: {total:.0f} s.", ""]
    for r in results:
        lines += [
            f"## `{r['name']}`: {'pass' if r['passed'] else 'FAIL'}",
            "",
            f"Mean tree depth {r['mean_tree_depth']:.2f} ({r['max_tree_depth_hits']} draws at the cap), "
            f"step sizes {', '.join(f'{e:.3g}' for e in r['step_size'])}.",
            "",
            "| quantity | mean | ref mean | mean err (sd) | sd | ref sd | sd ratio | R-hat | bulk ESS |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for q, v in r["quantities"].items():
            lines.append(
                f"| `{q}` | {v['mean']:.4g} | {v['ref_mean']:.4g} | {v['mean_err']:.3f} | {v['sd']:.4g} | "
                f"{v['ref_sd']:.4g} | {v['sd_ratio']:.3f} | {v['rhat']:.4f} | {v['ess_bulk']:.0f} |"
            )
        if r["warnings"]:
            lines += ["", *(f"- {w}" for w in r["warnings"])]
        lines.append("")
    return "\n".join(lines)


def render_seeds(rows: dict, meta: dict) -> str:
    """The markdown report of a ``--seeds`` run: passes per posterior over the seeds."""
    lines = [
        "# posteriordb DEV set over several seeds: how often each posterior passes",
        "",
        f"Seeds 0-{meta['num_seeds'] - 1}, each a run of 4 chains x {meta['num_warmup']} warmup + "
        f"{meta['num_samples']} draws with the same criteria and settings as `posteriordb.md`. JAX "
        f"{meta['jax']}, {meta['devices']} host devices, float64. ESS per gradient: the minimum bulk ESS "
        "over the reference quantities per leapfrog step of the kept draws, the mean over seeds.",
        "",
        "| posterior | passes | max R-hat per seed | divergences per seed | step sizes (seed 0) "
        "| min ESS per gradient |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        rhats = ", ".join(f"{r['max_rhat']:.4f}" for r in runs)
        lines.append(
            f"| `{name}` | {sum(r['passed'] for r in runs)} of {len(runs)} | "
            f"{rhats} | {', '.join(str(r['divergences']) for r in runs)} | "
            f"{', '.join(f'{e:.3g}' for e in runs[0]['step_size'])} | "
            f"{np.mean([r['min_ess_bulk'] / r['gradient_evaluations'] for r in runs]):.4f} |"
        )
    if meta["skipped"]:
        lines += ["", f"Not run: {', '.join(f'`{n}`' for n in meta['skipped'])}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(pdb.POSTERIORS), help="run one posterior")
    parser.add_argument("--quick", action="store_true", help="300 warmup + 300 draws; write no results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=pdb.DATA_ROOT, help="the posteriordb folder")
    parser.add_argument("--seeds", type=int, default=0, help="run seeds 0..N-1 and count the passes")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(pdb.POSTERIORS))
    args = parser.parse_args(argv)
    if args.seeds:
        return main_seeds(args)

    num_warmup = num_samples = 300 if args.quick else 1000
    names = [args.only] if args.only else list(pdb.POSTERIORS)
    key = jax.random.key(args.seed)
    meta = {
        "jax": jax.__version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "devices": jax.device_count(),
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "seed": args.seed,
    }

    results = []
    for name in names:
        r = run_one(name, key, num_warmup, num_samples, args.data)
        results.append(r)
        print(
            f"{'pass' if r['passed'] else 'FAIL'}  {name:42s} mean err {r['worst_mean_err']:.3f}  "
            f"sd ratio {r['worst_sd_ratio']:.3f}  R-hat {r['max_rhat']:.4f}  ESS {r['min_ess_bulk']:.0f}  "
            f"div {r['divergences']}  {r['wall_time']:.1f} s  {r['gradient_evaluations']:,} grads",
            flush=True,
        )

    if not args.quick:
        path = RESULTS / "posteriordb.json"
        if args.only and path.exists():
            # Merge one re-run posterior into the full results, keeping the posteriordb order.
            previous = {r["name"]: r for r in json.loads(path.read_text())["results"]}
            previous[args.only] = results[0]
            results = [previous[n] for n in pdb.POSTERIORS if n in previous]
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
        (RESULTS / "posteriordb.md").write_text(render(results, meta))

    n_pass = sum(r["passed"] for r in results)
    total = sum(r["wall_time"] for r in results)
    print(f"\n{n_pass} of {len(results)} posteriors pass; total wall time {total:.0f} s.")
    failed = [r["name"] for r in results if not r["passed"]]
    if failed:
        print("failed: " + ", ".join(failed))
    return 0 if not failed else 1


def main_seeds(args) -> int:
    """``--seeds N``: every posterior (but ``--skip``) at seeds 0..N-1; writes posteriordb_seeds.*."""
    names = [args.only] if args.only else [n for n in pdb.POSTERIORS if n not in args.skip]
    meta = {
        "jax": jax.__version__,
        "platform": platform.platform(),
        "devices": jax.device_count(),
        "num_warmup": 1000,
        "num_samples": 1000,
        "num_seeds": args.seeds,
        "skipped": [n for n in pdb.POSTERIORS if n not in names],
    }
    rows = {}
    for name in names:
        runs = []
        for seed in range(args.seeds):
            r = run_one(name, jax.random.key(seed), 1000, 1000, args.data)
            runs.append({k: v for k, v in r.items() if k != "quantities"})
            print(
                f"{'pass' if r['passed'] else 'FAIL'}  {name:42s} seed {seed}  R-hat {r['max_rhat']:.4f}  "
                f"ESS {r['min_ess_bulk']:.0f}  div {r['divergences']}",
                flush=True,
            )
        rows[name] = runs
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "posteriordb_seeds.json").write_text(
        json.dumps({"meta": meta, "results": rows}, indent=1) + "\n"
    )
    (RESULTS / "posteriordb_seeds.md").write_text(render_seeds(rows, meta))
    print(render_seeds(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
