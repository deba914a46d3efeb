"""Simulation-based calibration of bayeskit's MCMC kernels: rwmh, gibbs, hmc and nuts.

Each case runs ``bayeskit.sbc.run`` with 200 simulations on a small model: draw the parameters
and data from the prior, fit (warmup + draws thinned to about 100 nearly independent ones per
simulation), and rank every scalar latent quantity (and deterministic) of the truth among the
draws. Uniformity is tested per quantity with Pearson's chi-square on 20 bins of ranks; because
a case tests several quantities, its verdict uses the Bonferroni-combined p-value
``min(1, Q * min p)`` at level 0.01 (each quantity's own p-value is listed too, for reading, not
for a verdict: at 0.01, about one in a hundred calibrated quantities falls below).

Cases:
  normal (mu ~ N(0, 1), sigma ~ HalfNormal(1), 10 observations): nuts, hmc, rwmh
  eight schools, non-centred (mu ~ N(0, 5), tau ~ HalfCauchy(5)), theta as a deterministic: nuts, hmc
  linear regression (3 weights ~ N(0, 1), sigma2 ~ InvGamma(3, 2), 20 observations): gibbs with
      the built-in normal / inverse-gamma conditionals, and rwmh
  eight schools, centred, with tau2 ~ InvGamma(3, 50): gibbs with the built-in hierarchical-normal
      conditionals
  a two-component Gaussian mixture, 20 observations, with discrete assignments z_i ranked too:
      gibbs with the built-in mixture conditionals (how bayeskit samples discrete latents)

Run:  python benchmarks/sbc.py            (writes results/sbc.{json,md})
      python benchmarks/sbc.py --quick    (50 simulations; writes nothing)
      python benchmarks/sbc.py --only nuts-eight_schools
"""

from __future__ import annotations

import os

# Two host devices, so that simulations are split over both cores (set before jax loads).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

import bayeskit  # noqa: E402
from bayeskit import dist, sbc  # noqa: E402
from bayeskit.mcmc import (  # noqa: E402
    gaussian_mixture_blocks,
    gibbs,
    hierarchical_normal_blocks,
    linear_regression_blocks,
)

RESULTS = Path(__file__).parent / "results"
ALPHA = 0.01
SIGMA = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
X = jnp.asarray(np.random.default_rng(2024).normal(size=(20, 3)))


def normal(m, n, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    sigma = m.sample("sigma", dist.HalfNormal(1.0))
    with m.plate("data", n):
        m.sample("y", dist.Normal(mu, sigma), obs=y)


def eight_schools(m, sigma, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau = m.sample("tau", dist.HalfCauchy(5.0))
    with m.plate("school", sigma.shape[0]):
        theta_raw = m.sample("theta_raw", dist.Normal(0.0, 1.0))
        m.deterministic("theta", mu + tau * theta_raw)
        m.sample("y", dist.Normal(mu + tau * theta_raw, sigma), obs=y)


def regression(m, X, y=None):
    with m.plate("coef", X.shape[1]):
        w = m.sample("weights", dist.Normal(0.0, 1.0))
    sigma2 = m.sample("sigma2", dist.InverseGamma(3.0, 2.0))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, jnp.sqrt(sigma2)), obs=y)


def centred_schools(m, sigma, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau2 = m.sample("tau2", dist.InverseGamma(3.0, 50.0))
    with m.plate("school", sigma.shape[0]):
        theta = m.sample("theta", dist.Normal(mu, jnp.sqrt(tau2)))
        m.sample("y", dist.Normal(theta, sigma), obs=y)


# The mixture's priors tell the components apart (means a priori near -3 and +3), so the
# posterior has one labelling and the ranks of means, weights and variances are meaningful.
MIXTURE_MEANS = (jnp.array([-3.0, 3.0]), 1.0)
MIXTURE_VARIANCES = (3.0, 2.0)


def mixture(m, n, y=None):
    weights = m.sample("weights", dist.Dirichlet(jnp.ones(2)))
    means = m.sample("means", dist.Normal(*MIXTURE_MEANS).to_event(1))
    variances = m.sample("variances", dist.InverseGamma(*MIXTURE_VARIANCES).expand((2,)).to_event(1))
    with m.plate("data", n):
        z = m.sample("z", dist.Categorical(probs=weights)).astype(jnp.int32)  # drawn as floats
        m.sample("y", dist.Normal(means[z], jnp.sqrt(variances[z])), obs=y)


def mixture_gibbs(data):
    return gibbs(gaussian_mixture_blocks(data["y"], 2, MIXTURE_MEANS, MIXTURE_VARIANCES))


def regression_gibbs(data):
    return gibbs(linear_regression_blocks(X, data["y"], 0.0, 1.0, a0=3.0, b0=2.0))


def schools_gibbs(data):
    return gibbs(hierarchical_normal_blocks(data["y"], SIGMA, mu_prior=(0.0, 5.0), tau_prior=(3.0, 50.0)))


# name -> (model, args, kernel, options, description)
CASES = {
    "nuts-normal": (normal, (10,), "nuts", {}, "normal mean and scale, n = 10"),
    "hmc-normal": (normal, (10,), "hmc", {"num_integration_steps": 16}, "normal mean and scale, n = 10"),
    "rwmh-normal": (normal, (10,), "rwmh", {"num_warmup": 1000, "num_samples": 5000, "thin": 50}, "normal mean and scale, n = 10"),
    "nuts-eight_schools": (eight_schools, (SIGMA,), "nuts", {}, "eight schools, non-centred"),
    "hmc-eight_schools": (eight_schools, (SIGMA,), "hmc", {"num_integration_steps": 16}, "eight schools, non-centred"),
    "gibbs-regression": (regression, (X,), regression_gibbs, {"num_warmup": 100}, "linear regression, p = 3, n = 20"),
    "rwmh-regression": (regression, (X,), "rwmh", {"num_warmup": 1000, "num_samples": 10000, "thin": 100}, "linear regression, p = 3, n = 20"),
    "gibbs-centred_schools": (centred_schools, (SIGMA,), schools_gibbs, {"num_warmup": 200, "num_samples": 5000, "thin": 50},
                              "eight schools, centred, tau2 ~ InvGamma(3, 50)"),
    "gibbs-mixture": (mixture, (20,), mixture_gibbs, {"num_warmup": 200, "num_samples": 2000, "thin": 20},
                      "2-component Gaussian mixture, n = 20, discrete z"),
}  # fmt: skip


def run_case(name: str, key, num_simulations: int) -> dict:
    model, args, kernel, options, description = CASES[name]
    settings = {"num_chains": 1, "num_warmup": 1000, "num_samples": 1000, "thin": 10, **options}
    start = time.perf_counter()
    result = sbc.run(
        key, model, *args, observed="y", num_simulations=num_simulations, kernel=kernel,
        progress_bar=False, **settings,
    )  # fmt: skip
    wall = time.perf_counter() - start
    digest = result.to_dict()
    p_combined = digest["p_value_bonferroni"]
    return {
        "name": name,
        "kernel": name.split("-")[0],
        "model": description,
        "num_simulations": num_simulations,
        "num_draws": result.num_draws,
        "settings": {k: v for k, v in settings.items()},
        "num_quantities": len(result.quantities),
        "min_p_value": float(np.min(result.test()["p_value"])),
        "p_value_bonferroni": p_combined,
        "passed": bool(p_combined >= ALPHA),
        "wall_time": wall,
        "compile_time": result.info["compile_time"],
        "run_time": result.info["run_time"],
        "num_devices": result.info["num_devices"],
        "stats": digest["stats"],
        # Vmapped lanes wait for the slowest: the most expensive simulation bounds a batch's time.
        "max_gradient_evaluations": (
            int(np.max(result.stats["num_gradient_evaluations"]))
            if "num_gradient_evaluations" in result.stats
            else None
        ),
        "quantities": digest["quantities"],
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def render(results: list[dict], meta: dict) -> str:
    n_pass = sum(r["passed"] for r in results)
    lines = [
        "# Simulation-based calibration of bayeskit's MCMC kernels",
        "",
        f"{n_pass} of {len(results)} cases pass. Each case: {results[0]['num_simulations']} simulations "
        "(parameters and data drawn from the prior, one chain fitted per simulation, draws thinned to "
        "the number in `L`), every scalar latent quantity and deterministic ranked among the draws, "
        "Pearson's chi-square on 20 bins of ranks per quantity (19 degrees of freedom). A case passes when the "
        f"Bonferroni-combined p-value min(1, Q x min p) over its Q quantities is at least {ALPHA}; "
        "per-quantity p-values are listed for reading (about 1 in 100 calibrated quantities is below "
        "0.01 by chance, so they are not verdicts on their own).",
        "",
        f"{meta['date']} on {meta['platform']}, {meta['devices']} JAX host devices (simulations split "
        f"over them), float64, JAX {meta['jax']}, bayeskit {meta['bayeskit']}, seed {meta['seed']}. "
        f"Load average (1 min) at start {meta['load_start']:.2f}, at end {meta['load_end']:.2f}. "
        f"Total wall time {meta['total_wall_time']:.0f} s (compile included). "
        "Reproduce: `python benchmarks/sbc.py`.",
        "",
        "Gradients / sim: mean and largest over simulations of the leapfrog steps per simulation "
        "(warmup included). Simulations run as vmapped lanes that wait for the slowest, so one "
        "expensive simulation (in eight schools, a prior draw of tau in the hundreds) sets a batch's "
        "time.",
        "",
        "| case | model | Q | L | warmup / draws / thin | min p | Bonferroni p | result | divergences / sim "
        "| gradients / sim (mean, max) | ESS / L (median) | wall (s) | compile (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["settings"]
        ess = np.median([q["ess_ratio"] for q in r["quantities"] if q["ess_ratio"] is not None])
        div = r["stats"].get("num_divergent")
        mean_grads = r["stats"].get("num_gradient_evaluations")
        grads = "-" if mean_grads is None else f"{mean_grads:,.0f}, {r['max_gradient_evaluations']:,}"
        lines.append(
            f"| `{r['name']}` | {r['model']} | {r['num_quantities']} | {r['num_draws']} | "
            f"{s['num_warmup']} / {s['num_samples']} / {s['thin']} | {r['min_p_value']:.3g} | "
            f"{r['p_value_bonferroni']:.3g} | {'pass' if r['passed'] else '**FAIL**'} | "
            f"{'-' if div is None else f'{div:.2f}'} | {grads} | {ess:.2f} | {r['wall_time']:.1f} | "
            f"{r['compile_time']:.1f} |"
        )
    lines += [""]
    for r in results:
        lines += [
            f"## `{r['name']}`: {'pass' if r['passed'] else 'FAIL'}",
            "",
            "| quantity | chi2 | p-value | p >= 0.01 | mean rank (expected) | ESS / L |",
            "|---|---|---|---|---|---|",
        ]
        for q in r["quantities"]:
            lines.append(
                f"| `{q['quantity']}` | {q['chi2']:.1f} | {q['p_value']:.3g} | "
                f"{'yes' if q['p_value'] >= ALPHA else 'no'} | {q['mean_rank']:.1f} ({q['expected_mean_rank']:.1f}) | "
                f"{q['ess_ratio']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), help="run one case (merged into the results)")
    parser.add_argument("--quick", action="store_true", help="50 simulations; write no results")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)

    num_simulations = 50 if args.quick else 200
    names = [args.only] if args.only else list(CASES)
    key = jax.random.key(args.seed)
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = []
    for name in names:
        r = run_case(name, jax.random.fold_in(key, list(CASES).index(name)), num_simulations)
        results.append(r)
        print(
            f"{'pass' if r['passed'] else 'FAIL'}  {name:24s} Q={r['num_quantities']:2d}  min p {r['min_p_value']:.3g}  "
            f"Bonferroni p {r['p_value_bonferroni']:.3g}  {r['wall_time']:.1f} s (compile {r['compile_time']:.1f} s)",
            flush=True,
        )
    total = time.perf_counter() - t0
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax": jax.__version__,
        "bayeskit": bayeskit.__version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "devices": jax.device_count(),
        "seed": args.seed,
        "alpha": ALPHA,
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "total_wall_time": total,
    }

    if not args.quick:
        path = RESULTS / "sbc.json"
        if args.only and path.exists():
            previous = {r["name"]: r for r in json.loads(path.read_text())["results"]}
            previous[args.only] = results[0]
            results = [previous[n] for n in CASES if n in previous]
            meta["total_wall_time"] = sum(r["wall_time"] for r in results)
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
        (RESULTS / "sbc.md").write_text(render(results, meta))

    n_pass = sum(r["passed"] for r in results)
    print(f"\n{n_pass} of {len(results)} cases pass; total wall time {total:.0f} s.")
    return 0 if n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
