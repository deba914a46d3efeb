"""Bayesian deep learning on the UCI sets: MC dropout, Bayes-by-backprop and deep ensembles vs published.

Protocol (``../shared/data/uci/README.md``; loader and scoring in ``benchmarks/_uci.py``): the
given splits; X and y standardised on the training split (inside each estimator); one hidden
layer of 50 ReLU units (100 for protein); hyperparameters chosen on a validation split carved
from each training split (the last 20% of a fixed permutation of the training rows; never test
rows); then the chosen model is refitted on the whole training split. Test RMSE and test
log-likelihood (per point, original units) as mean +- standard error over splits.

Methods:

- ``mc_dropout``: ``MCDropoutRegressor``; grid over dropout rate {0.005, 0.01, 0.05, 0.1} x the
  README's tau grid (original units), chosen by validation log-likelihood (the 2018 protocol);
  prior length-scale 1e-2; test predictive from ``--passes`` dropout passes.
- ``bayes_by_backprop``: ``BayesByBackpropRegressor`` (prior N(0, 1), learned homoscedastic noise);
  grid over the number of epochs by early stopping on the validation split; refit with that
  many epochs.
- ``deep_ensemble``: ``DeepEnsembleRegressor`` (M = 5, heteroscedastic, no adversarial training);
  number of epochs chosen like BBB's.
- ``gp``: exact GPR with an ARD RBF kernel where n <= 10,000, read from
  ``results/uci_gp.json`` (``benchmarks/uci_gp.py``) when present; never refitted here.

Speed: each method's whole grid is one ``jax.vmap`` over splits x hyperparameters (the
estimators' ``fit`` is pure and runs traced), the ensemble's members a further ``vmap`` inside.

Run:  python benchmarks/uci_bdl.py --datasets yacht --splits 2              (smoke test)
      python benchmarks/uci_bdl.py --datasets yacht bostonHousing energy     (the small sets)
Writes results/uci_bdl.json and results/uci_bdl.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _uci import UCI_DATASETS, UCI_DIR, load_uci, mean_and_standard_error  # noqa: E402

from bayeskit import metrics  # noqa: E402
from bayeskit.nn import BayesByBackpropRegressor, DeepEnsembleRegressor, MCDropoutRegressor  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("mc_dropout", "bayes_by_backprop", "deep_ensemble", "gp")
LABELS = {
    "mc_dropout": "MC dropout (grid p x tau)",
    "bayes_by_backprop": "Bayes-by-backprop",
    "deep_ensemble": "Deep ensemble (M = 5)",
    "gp": "Exact GPR, ARD RBF (uci_gp.json)",
}
DROPOUT_RATES = (0.005, 0.01, 0.05, 0.1)
# Published: (MC dropout 2016 RMSE, its se, MC dropout 2016 LL, se, grid-search 2018 LL, se, ensembles LL)
PUBLISHED = {
    "bostonHousing": (2.97, 0.19, -2.46, 0.06, -2.40, 0.04, -2.41),
    "energy": (1.66, 0.04, -1.99, 0.02, -1.21, 0.01, -1.38),
    "kin8nm": (0.10, 0.00, 0.95, 0.01, 1.14, 0.01, 1.20),
    "naval-propulsion-plant": (0.01, 0.00, 3.80, 0.01, 4.45, 0.00, 5.63),
    "power-plant": (4.02, 0.04, -2.80, 0.01, -2.80, 0.01, -2.79),
    "protein-tertiary-structure": (4.36, 0.01, -2.89, 0.00, -2.87, 0.00, -2.83),
    "yacht": (1.11, 0.09, -1.55, 0.03, -1.25, 0.01, -1.18),
}


def _stack(X, y, splits, num_splits):
    """Training, validation and test arrays stacked over splits (every split has the same sizes)."""
    rng = np.random.default_rng(0)
    tr, va, te = [], [], []
    for train, test in splits[:num_splits]:
        order = rng.permutation(train.size)
        cut = int(round(0.8 * train.size))
        tr.append(train), va.append((train[order[:cut]], train[order[cut:]])), te.append(test)
    stack = lambda rows: (
        jnp.asarray(np.stack([X[r] for r in rows])),
        jnp.asarray(np.stack([y[r] for r in rows])),
    )
    return stack(tr), stack([a for a, _ in va]), stack([b for _, b in va]), stack(te)


def _scores(pred, y):
    """Per split: RMSE and test LL of a predictive mixture (original units)."""
    scale = jnp.broadcast_to(pred.scale_samples, pred.loc_samples.shape)
    return float(metrics.rmse(y, pred.mean)), -float(metrics.mixture_nll(y, pred.loc_samples, scale))


def _vmapped(make, fit_kwargs=None):
    """``(keys, X, y, X_test, *hyper) -> per-split predictives`` as one vmapped, jitted call."""

    def one(key, Xtr, ytr, Xte, *hyper):
        return make(*hyper).fit(key, Xtr, ytr, **(fit_kwargs or {})).predict(Xte)

    return jax.jit(jax.vmap(one))


def _nll_rows(pred, y):
    scale = jnp.broadcast_to(pred.scale_samples, pred.loc_samples.shape)
    return jax.vmap(lambda l, s, t: metrics.mixture_nll(t, l, s))(pred.loc_samples, scale, y)


def run_mc_dropout(key, data, hidden, epochs, passes, taus):
    (Xtr, ytr), (Xa, ya), (Xv, yv), (Xte, yte) = data
    S = Xtr.shape[0]
    grid = [(p, t) for p in DROPOUT_RATES for t in taus]
    make = lambda p, t: MCDropoutRegressor(
        (hidden,), dropout_rate=p, tau=t, num_epochs=epochs, num_passes=passes
    )
    fit = jax.jit(jax.vmap(lambda k, X, y, Xt, p, t: make(p, t).fit(k, X, y).predict(Xt)))
    # Every (split, grid point) at once: repeat splits along the grid.
    G = len(grid)
    p = jnp.tile(jnp.array([g[0] for g in grid]), S)
    t = jnp.tile(jnp.array([g[1] for g in grid]), S)
    rep = lambda a: jnp.repeat(a, G, axis=0)
    keys = jax.random.split(key, S * G)
    # One split's grid at a time (one compile, same shapes): all S x G fits at once, each with its
    # test-time passes, need tens of GB on the larger sets.
    val_ll = np.concatenate(
        [
            -np.asarray(_nll_rows(fit(keys[c], rep(Xa)[c], rep(ya)[c], rep(Xv)[c], p[c], t[c]), rep(yv)[c]))
            for c in (slice(i * G, (i + 1) * G) for i in range(S))
        ]
    ).reshape(S, G)
    best = np.argmax(val_ll, axis=1)
    chosen = [grid[b] for b in best]
    pred = fit(jax.random.split(jax.random.fold_in(key, 1), S), Xtr, ytr, Xte,
               jnp.array([c[0] for c in chosen]), jnp.array([c[1] for c in chosen]))  # fmt: skip
    return pred, [{"dropout_rate": c[0], "tau": c[1]} for c in chosen]


def _run_early_stopped(key, data, make):
    """Fit on the inner 80% with early stopping on the validation 20%, refit on all with the best epoch count."""
    (Xtr, ytr), (Xa, ya), (Xv, yv), (Xte, yte) = data
    S = Xtr.shape[0]
    probe = jax.jit(
        jax.vmap(lambda k, X, y, Xv, yv: make(None).fit(k, X, y, validation=(Xv, yv)).history.best_epoch)
    )
    best_epoch = np.asarray(probe(jax.random.split(key, S), Xa, ya, Xv, yv))
    best_epoch = np.atleast_1d(best_epoch)
    # One epoch count for all splits keeps the refit one compiled program: the median choice.
    epochs = int(np.median(best_epoch.reshape(S, -1).mean(axis=1))) + 1
    fit = jax.jit(jax.vmap(lambda k, X, y, Xt: make(epochs).fit(k, X, y).predict(Xt)))
    return fit(jax.random.split(jax.random.fold_in(key, 1), S), Xtr, ytr, Xte), [{"num_epochs": epochs}] * S


def run_dataset(name, num_splits, methods, epochs, passes, key):
    X, y, splits = load_uci(name)
    num_splits = min(num_splits or len(splits), len(splits))
    hidden = 100 if name.startswith("protein") else 50
    data = _stack(X, y, splits, num_splits)
    taus = tuple(float(t) for t in np.loadtxt(UCI_DIR / name / "tau_values.txt", ndmin=1))
    out = {"rows": int(y.size), "features": int(X.shape[1]), "splits_available": len(splits), "methods": {}}
    for method in methods:
        if method == "gp":
            gp = _gp_results(name, num_splits)
            if gp:
                out["methods"]["gp"] = gp
            continue
        start = time.perf_counter()
        k = jax.random.fold_in(key, METHODS.index(method))
        if method == "mc_dropout":
            pred, chosen = run_mc_dropout(k, data, hidden, epochs, passes, taus)
        elif method == "bayes_by_backprop":
            pred, chosen = _run_early_stopped(
                k,
                data,
                lambda e: BayesByBackpropRegressor((hidden,), num_epochs=e or epochs, num_draws=passes),
            )
        else:
            pred, chosen = _run_early_stopped(
                k, data, lambda e: DeepEnsembleRegressor(5, (hidden,), num_epochs=e or epochs)
            )
        yte = data[3][1]
        per_split = []
        for s in range(num_splits):
            one = jax.tree.map(lambda a, s=s: a[s], pred)
            rmse, ll = _scores(one, yte[s])
            per_split.append({"split": s, "rmse": rmse, "log_likelihood": ll, **chosen[s]})
        wall = time.perf_counter() - start
        out["methods"][method] = _summary(per_split, wall)
        print(f"{name:>15} {method:>18}: RMSE {out['methods'][method]['rmse'][0]:.3f}  "
              f"LL {out['methods'][method]['log_likelihood'][0]:.3f}  ({wall:.1f} s, {num_splits} splits)", flush=True)  # fmt: skip
    return out


def _summary(per_split, wall):
    return {
        "splits": per_split,
        "num_splits": len(per_split),
        "rmse": mean_and_standard_error([r["rmse"] for r in per_split]),
        "log_likelihood": mean_and_standard_error([r["log_likelihood"] for r in per_split]),
        "wall_s": wall,
    }


def _gp_results(name, num_splits):
    path = RESULTS / "uci_gp.json"
    if not path.exists():
        return None
    entry = json.loads(path.read_text()).get("datasets", {}).get(name, {}).get("methods", {}).get("rbf")
    if not entry:
        return None
    rows = [
        {"split": r["split"], "rmse": r["rmse"], "log_likelihood": r["log_likelihood"]}
        for r in entry["splits"]
    ]
    return _summary(rows, float(sum(r.get("fit_s", 0.0) for r in entry["splits"])))


def _fmt(pair, digits=2):
    m, se = pair
    return f"{m:.{digits}f} ± {se:.{digits}f}" if not math.isnan(se) else f"{m:.{digits}f}"


def render(payload) -> str:
    meta = payload["meta"]
    lines = [
        "# UCI regression: Bayesian deep learning (standard 90/10 splits)",
        "",
        f"Machine: {meta['cpu_count']} cores, {meta['platform']}; float64 on the CPU; jax {meta['jax']}. "
        f"Command: `{meta['command']}`; total wall time {meta['wall_s']:.0f} s.",
        "",
        "Protocol: `../shared/data/uci/README.md`; hyperparameters chosen on a validation split (20%) "
        "carved from each training split, then refitted on the whole training split; scores in the "
        "original units; mean ± standard error over splits (std / sqrt(k)). Details in "
        "`benchmarks/uci_bdl.py`. Published: Gal & Ghahramani 2016 (RMSE, LL), the 2018 grid-search "
        "re-run (LL), Lakshminarayanan et al. 2017 (ensembles LL).",
        "",
        "| dataset | method | splits | test RMSE | test LL | published MC dropout RMSE | published LL: MC dropout 2016 / grid 2018 / ensembles | wall (s) | chosen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in payload["datasets"].items():
        pub = PUBLISHED[name]
        for method, res in entry["methods"].items():
            chosen = ""
            if method != "gp":
                keys = [k for k in res["splits"][0] if k not in ("split", "rmse", "log_likelihood")]
                chosen = "; ".join(
                    f"{k}: " + ", ".join(sorted({f"{r[k]:g}" for r in res["splits"]})) for k in keys
                )
            lines.append(
                f"| {name} | {LABELS[method]} | {res['num_splits']} / {entry['splits_available']} | "
                f"{_fmt(res['rmse'])} | {_fmt(res['log_likelihood'])} | {pub[0]:.2f} ± {pub[1]:.2f} | "
                f"{pub[2]:.2f} / {pub[4]:.2f} / {pub[6]:.2f} | {res['wall_s']:.0f} | {chosen} |"
            )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=UCI_DATASETS, default=["yacht", "bostonHousing", "energy"]
    )
    parser.add_argument("--splits", type=int, default=None, help="the first N splits (default: all)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--epochs", type=int, default=400, help="most epochs per fit")
    parser.add_argument("--passes", type=int, default=1000, help="MC dropout passes / BBB draws at test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    key = jax.random.key(args.seed)
    start = time.perf_counter()
    datasets = {}
    for name in args.datasets:
        datasets[name] = run_dataset(
            name,
            args.splits,
            args.methods,
            args.epochs,
            args.passes,
            jax.random.fold_in(key, UCI_DATASETS.index(name)),
        )
    payload = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": "python benchmarks/uci_bdl.py " + " ".join(sys.argv[1:]),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "jax": jax.__version__,
            "epochs": args.epochs,
            "passes": args.passes,
            "wall_s": time.perf_counter() - start,
        },
        "datasets": datasets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "uci_bdl.json").write_text(json.dumps(payload, indent=1))
    (RESULTS / "uci_bdl.md").write_text(render(payload))
    print(render(payload))


if __name__ == "__main__":
    main()
