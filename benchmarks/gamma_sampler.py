"""bayeskit's gamma sampler against `jax.random.loggamma`: compile time and time per draw.

Every gamma-based family in `bayeskit.dist` (Gamma, InverseGamma, Beta, StudentT, Dirichlet,
NegativeBinomial, LKJCholesky, ...) draws through `bayeskit.dist._gamma_sampler.log_gamma_sample`.
Here it and JAX's sampler, the same method (Marsaglia and Tsang, log space for shapes below 1),
each draw `n` log-gamma variates for a shape vector cycling over 0.3, 2 and 50:

- compile: `jax.jit(f).lower(key).compile()` of the draw at n = 1,000, and of the gradient of the
  draws' mean in the shapes (the implicit reparameterisation gradient), each a distinct program,
  after one warm-up compile so that JAX's first-use costs fall on neither;
- run: median of 7 calls of the compiled draw at n = 1,000, 100,000 and 1,000,000.

Ratios are JAX's time over bayeskit's (above 1: bayeskit faster). float64 on the CPU.

Run:  python benchmarks/gamma_sampler.py   (writes results/gamma_sampler.{json,md})
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import bayeskit  # noqa: E402
from bayeskit.dist._gamma_sampler import log_gamma_sample  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SIZES = (1_000, 100_000, 1_000_000)
SAMPLERS = {
    "bayeskit": lambda key, a: log_gamma_sample(key, a, a.shape),
    "jax": lambda key, a: jax.random.loggamma(key, a, a.shape),
}


def shapes(n: int) -> jax.Array:
    return jnp.resize(jnp.array([0.3, 2.0, 50.0]), (n,))


def compile_seconds(fn, *args) -> float:
    t0 = time.perf_counter()
    jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - t0


def run_seconds(fn, key, a, repeats: int = 7) -> float:
    compiled = jax.jit(fn).lower(key, a).compile()
    compiled(key, a).block_until_ready()
    times = []
    for i in range(repeats):
        k = jax.random.fold_in(key, i)
        t0 = time.perf_counter()
        compiled(k, a).block_until_ready()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    key = jax.random.key(0)
    compile_seconds(lambda x: jnp.sin(x) + 1, jnp.ones(3))  # JAX's first-use costs
    rows = {}
    for name, draw in SAMPLERS.items():
        a = shapes(1_000)
        row = {
            "compile_draw_s": compile_seconds(draw, key, a),
            "compile_grad_s": compile_seconds(
                jax.grad(lambda a, k, draw=draw: jnp.exp(draw(k, a)).mean()), a, key
            ),
        }
        for n in SIZES:
            row[f"run_{n}_s"] = run_seconds(draw, key, shapes(n))
        rows[name] = row
        print(name, {k: round(v, 4) for k, v in row.items()})
    ratios = {k: rows["jax"][k] / rows["bayeskit"][k] for k in rows["bayeskit"]}
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {jax.local_device_count()} JAX device(s)",
        "versions": {"jax": jax.__version__, "bayeskit": bayeskit.__version__},
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamma_sampler.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "ratios": ratios}, indent=2)
    )
    labels = {
        "compile_draw_s": "compile: draw (n = 1,000)",
        "compile_grad_s": "compile: gradient in the shapes",
    }
    labels.update({f"run_{n}_s": f"run: {n:,} draws" for n in SIZES})
    lines = [
        "# Gamma sampler: bayeskit vs `jax.random.loggamma`",
        "",
        f"{meta['date']}, {meta['machine']}, jax {jax.__version__}, float64; shapes cycling over 0.3, 2, 50. "
        f"Load average (1 min) at the end {meta['load_average_1min_at_end']:.2f}. "
        "Seconds (runs: median of 7); ratio = JAX's time / bayeskit's. "
        "Reproduce: `python benchmarks/gamma_sampler.py`.",
        "",
        "| what | bayeskit (s) | jax.random.loggamma (s) | ratio |",
        "|---|---|---|---|",
    ]
    for k, label in labels.items():
        lines.append(f"| {label} | {rows['bayeskit'][k]:.4f} | {rows['jax'][k]:.4f} | {ratios[k]:.2f} |")
    (RESULTS / "gamma_sampler.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
