"""bayeskit.nn.VAE on scikit-learn's 8x8 digits: test ELBO and importance-weighted log-likelihood.

Data: ``bayeskit.datasets.load_digits()`` (1,797 images, pixel intensities divided by 16 so they
lie in [0, 1]); the first 1,500 images train, the last 297 test (the split the tests and the tour
use; scikit-learn stores the digits in collection order, not sorted by class, so every digit
appears in both parts).

Model: ``VAE(key, 64, latent_dim=L, hidden=(256, 128), likelihood="bernoulli")`` for each L in
``--latent-dims``: encoder 64-256-128-2L (means and softplus scales), decoder L-128-256-64 with
Bernoulli logits; grey levels are used as they are (the usual practice), so the numbers are
cross-entropies in nats per image and not densities of continuous x.

Training: Adam (learning rate ``--learning-rate``), minibatches of ``--batch-size``, a fixed
budget of ``--num-epochs`` epochs (no early stopping and no model selection on the test set:
the model after the last epoch is scored). The test ELBO is recorded after every epoch only to
show convergence (and any overfitting) in the report. float64 on the CPU.

Scored on the test split (and, to show the generalisation gap, on the training split):

- ELBO: mean over images of ``vae.elbo(key, X, num_samples=100)`` (the reconstruction term
  averaged over 100 draws of z; the KL term exact), with its decomposition.
- IWAE: mean over images of ``vae.iwae_log_likelihood(key, X, num_importance=100)`` (Burda et al.
  2016), a tighter lower bound on log p(x) in expectation.
- Standard errors are over images (sd / sqrt(n)); the Monte Carlo error per image is far smaller.

Run from the repository root (about 3 minutes on 2 CPU cores)::

    .venv/bin/python benchmarks/vae_digits.py

Writes results/vae_digits.json and results/vae_digits.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # the benchmark owns its process (DESIGN: float64 on CPU)

import numpy as np  # noqa: E402

from bayeskit.datasets import load_digits  # noqa: E402
from bayeskit.nn import VAE  # noqa: E402

NUM_TRAIN = 1500
HIDDEN = (256, 128)
RESULTS = Path(__file__).parent / "results"


def score(vae: VAE, key, X, num_samples: int, num_importance: int) -> dict:
    k_elbo, k_iwae = jax.random.split(key)
    terms = vae.elbo(k_elbo, X, num_samples=num_samples)
    iwae = np.asarray(vae.iwae_log_likelihood(k_iwae, X, num_importance=num_importance))
    elbo = np.asarray(terms.elbo)
    n = elbo.size
    return {
        "elbo": float(elbo.mean()),
        "elbo_se": float(elbo.std(ddof=1) / np.sqrt(n)),
        "reconstruction": float(np.mean(terms.reconstruction)),
        "kl": float(np.mean(terms.kl)),
        "iwae": float(iwae.mean()),
        "iwae_se": float(iwae.std(ddof=1) / np.sqrt(n)),
        "iwae_minus_elbo": float(np.mean(iwae - elbo)),
    }


def run_one(latent_dim: int, args, X_train, X_test, seed: int) -> dict:
    key = jax.random.key(seed)
    k_init, k_fit, k_score = jax.random.split(key, 3)
    vae = VAE(k_init, X_train.shape[1], latent_dim=latent_dim, hidden=HIDDEN)
    start = time.perf_counter()
    fitted, history = vae.fit(
        k_fit,
        X_train,
        num_epochs=args.num_epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        X_valid=X_test,
        progress_bar=not args.no_progress,
    )
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    test = score(fitted, jax.random.fold_in(k_score, 0), X_test, args.num_samples, args.num_importance)
    train = score(fitted, jax.random.fold_in(k_score, 1), X_train, args.num_samples, args.num_importance)
    score_time = time.perf_counter() - start
    valid = history.valid_elbo
    tenth = max(1, len(valid) // 10)
    return {
        "latent_dim": latent_dim,
        "seed": seed,
        "fit_time_s": fit_time,
        "score_time_s": score_time,
        "test": test,
        "train": train,
        # Convergence: how much the per-epoch test ELBO and training ELBO moved over the last
        # tenth of the run (means of the last tenth minus the tenth before it).
        "last_tenth_change_test_elbo": float(valid[-tenth:].mean() - valid[-2 * tenth : -tenth].mean()),
        "last_tenth_change_train_elbo": float(
            history.train_elbo[-tenth:].mean() - history.train_elbo[-2 * tenth : -tenth].mean()
        ),
        "best_epoch_test_elbo": int(np.argmax(valid)) + 1,
        "test_elbo_curve": [float(v) for v in valid[:: max(1, len(valid) // 50)]],
        "train_elbo_curve": [float(v) for v in history.train_elbo[:: max(1, len(valid) // 50)]],
    }


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("bayeskit", "jax", "jaxlib", "equinox", "optax", "numpy", "scikit-learn"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(result: dict) -> str:
    meta, cfg = result["meta"], result["config"]
    lines = [
        "# VAE on scikit-learn's 8x8 digits",
        "",
        f"`{cfg['command']}` — {meta['date']} on {meta['cpu']} ({meta['cpu_count']} cores, shared with "
        f"other jobs), {meta['platform']}; float64 on the CPU; jax {meta['versions']['jax']}.",
        "",
        f"Train: first {cfg['num_train']} images, test: last {cfg['num_test']} (pixels / 16, in [0, 1]). "
        f"Bernoulli decoder on grey levels, encoder 64-{cfg['hidden'][0]}-{cfg['hidden'][1]}-2L, decoder "
        f"mirrored; Adam (learning rate {cfg['learning_rate']:g}), minibatches of {cfg['batch_size']}, "
        f"{cfg['num_epochs']} epochs, the final model scored (no early stopping, no selection on test).",
        "",
        f"Nats per image (higher is better), mean over images ± standard error over images. ELBO with "
        f"{cfg['num_samples']} draws of z per image; IWAE = importance-weighted log-likelihood estimate "
        f"with k = {cfg['num_importance']}.",
        "",
        "| latent dim | test ELBO | test IWAE (k=100) | test reconstruction | test KL | train ELBO "
        "| train IWAE | fit time (s) | test ELBO change, last 10% of epochs | best test epoch |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        t, tr = r["test"], r["train"]
        lines.append(
            f"| {r['latent_dim']} | {t['elbo']:.2f} ± {t['elbo_se']:.2f} | {t['iwae']:.2f} ± {t['iwae_se']:.2f} "
            f"| {t['reconstruction']:.2f} | {t['kl']:.2f} | {tr['elbo']:.2f} | {tr['iwae']:.2f} "
            f"| {r['fit_time_s']:.1f} | {r['last_tenth_change_test_elbo']:+.3f} | {r['best_epoch_test_elbo']} |"
        )
    lines += [
        "",
        "Fit time includes compilation (one compile per architecture). The gap between train and test "
        "ELBO is overfitting on 1,500 images; the IWAE - ELBO gap is the part of log p(x) the Gaussian "
        "q(z|x) misses. Grey levels under a Bernoulli likelihood are not a normalised density, so these "
        "numbers compare models on this data, not with continuous-density results.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--num-epochs", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--num-samples", type=int, default=100, help="draws of z for the ELBO")
    parser.add_argument("--num-importance", type=int, default=100, help="k for the IWAE estimate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    X = load_digits().X
    X_train, X_test = X[:NUM_TRAIN], X[NUM_TRAIN:]
    command = "python benchmarks/vae_digits.py" + (" " + " ".join(argv) if argv else "")
    result = {
        "meta": {
            "date": datetime.date.today().isoformat(),
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "versions": versions(),
        },
        "config": {
            "command": command,
            "num_train": int(X_train.shape[0]),
            "num_test": int(X_test.shape[0]),
            "hidden": list(HIDDEN),
            "likelihood": "bernoulli",
            "num_epochs": args.num_epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "num_samples": args.num_samples,
            "num_importance": args.num_importance,
        },
        "runs": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for latent_dim in args.latent_dims:
        run = run_one(latent_dim, args, X_train, X_test, args.seed)
        result["runs"].append(run)
        t = run["test"]
        print(
            f"latent {latent_dim:>2}: test ELBO {t['elbo']:.2f}, IWAE(100) {t['iwae']:.2f}, "
            f"train ELBO {run['train']['elbo']:.2f}, fit {run['fit_time_s']:.1f} s",
            flush=True,
        )
        # Written after every model, so an interrupted run keeps what it finished.
        (args.out / "vae_digits.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "vae_digits.md").write_text(render(result))


if __name__ == "__main__":
    main()
