"""Is the model language free? Jitted log density + gradient: bayeskit target vs hand-written JAX.

For eight schools (non-centred) and a 5,000 x 25 logistic regression, time
``jax.jit(jax.value_and_grad(f))`` for the bayeskit ``target(...).logdensity_fn`` and for a
hand-written function of the same density, interleaved, and report the ratio of medians.

Run:  python benchmarks/logdensity_overhead.py   (writes results/logdensity_overhead.{json,md})
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.scipy.stats import cauchy, norm  # noqa: E402

import bayeskit.dist as dist  # noqa: E402
from bayeskit.datasets import eight_schools, make_classification  # noqa: E402
from bayeskit.ppl import target  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def eight_schools_model(m, sigma, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau = m.sample("tau", dist.HalfCauchy(5.0))
    with m.plate("school", sigma.shape[0]):
        theta_raw = m.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = m.deterministic("theta", mu + tau * theta_raw)
        m.sample("y", dist.Normal(theta, sigma), obs=y)


def logistic_model(m, X, y):
    w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    b = m.sample("b", dist.Normal(0.0, 5.0))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)


def cases():
    es = eight_schools()
    y, sigma = jnp.asarray(es.y), jnp.asarray(es.extra["sigma"])

    def es_hand(z):
        mu, log_tau, raw = z[0], z[1], z[2:]
        tau = jnp.exp(log_tau)
        lp = norm.logpdf(mu, 0.0, 5.0) + jnp.log(2.0) + cauchy.logpdf(tau, 0.0, 5.0) + log_tau
        lp += jnp.sum(norm.logpdf(raw))
        return lp + jnp.sum(norm.logpdf(y, mu + tau * raw, sigma))

    data = make_classification(jax.random.key(0), num_samples=5000, num_features=25, weight_scale=0.5)
    X, yc = jnp.asarray(data.X), jnp.asarray(data.y, dtype=jnp.float64)

    def lr_hand(z):
        w, b = z[:25], z[25]
        logits = X @ w + b
        lp = jnp.sum(norm.logpdf(w)) + norm.logpdf(b, 0.0, 5.0)
        return lp + jnp.sum(yc * logits - jax.nn.softplus(logits))

    return {
        "eight_schools": (target(eight_schools_model, sigma, y=y), es_hand),
        "logistic_regression_5000x25": (target(logistic_model, X, yc), lr_hand),
    }


def time_pair(f_a, f_b, z, repeats: int, inner: int):
    """Median per-call time of two jitted functions, measured interleaved."""
    for f in (f_a, f_b):
        jax.block_until_ready(f(z))
    ta, tb = [], []
    for _ in range(repeats):
        for f, acc in ((f_a, ta), (f_b, tb)):
            start = time.perf_counter()
            for _ in range(inner):
                out = f(z)
            jax.block_until_ready(out)
            acc.append((time.perf_counter() - start) / inner)
    return float(np.median(ta)), float(np.median(tb))


def main():
    rows = []
    for name, (t, hand) in cases().items():
        z = t.init(jax.random.key(1))
        ours = jax.jit(jax.value_and_grad(t.logdensity_fn))
        theirs = jax.jit(jax.value_and_grad(hand))
        v1, g1 = ours(z)
        v2, g2 = theirs(z)
        np.testing.assert_allclose(v1, v2, rtol=1e-10)
        np.testing.assert_allclose(g1, g2, rtol=1e-8, atol=1e-10)
        inner = 2000 if name == "eight_schools" else 50
        t_ours, t_hand = time_pair(ours, theirs, z, repeats=31, inner=inner)
        rows.append(
            {
                "model": name,
                "dim": t.dim,
                "bayeskit_us": t_ours * 1e6,
                "hand_written_us": t_hand * 1e6,
                "ratio": t_ours / t_hand,
            }
        )
        print(
            f"{name:32s} dim={t.dim:3d}  bayeskit {t_ours * 1e6:9.2f} us  hand {t_hand * 1e6:9.2f} us  ratio {t_ours / t_hand:.3f}"
        )
    meta = {
        "jax": jax.__version__,
        "platform": platform.platform(),
        "device": str(jax.devices()[0]),
        "dtype": "float64",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "logdensity_overhead.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Log density + gradient: bayeskit target vs hand-written JAX (jitted, float64, CPU)",
        "",
        f"JAX {meta['jax']}, {meta['device']}. Ratio of median times (1.00 = free).",
        "",
        "| model | dim | bayeskit (us) | hand-written (us) | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['dim']} | {r['bayeskit_us']:.2f} | {r['hand_written_us']:.2f} | {r['ratio']:.3f} |"
        for r in rows
    ]
    (RESULTS / "logdensity_overhead.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
