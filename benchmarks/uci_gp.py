"""bayeskit GP regression on the UCI sets (standard 90/10 splits), with scikit-learn as the reference.

The protocol of ``../shared/data/uci/README.md`` (loader and scoring in ``benchmarks/_uci.py``):
for each split, X and y are standardised with the training split's mean and standard deviation
(a constant column gets standard deviation 1), the model is fitted on the training split, and
test RMSE and test NLL (mean negative log predictive density per point, noise included) are
computed in the ORIGINAL units of y (NLL_original = NLL_standardised + log(y_std)); each row
reports mean +- standard error over splits (numpy std / sqrt(k), as the protocol's reference code).

Methods (zero mean, every hyperparameter learned by maximum marginal likelihood, starting from
lengthscales 1, variance 1, noise variance 0.1 in standardised units):

- ``rbf``: ``bayeskit.gp.GPR`` with an ARD RBF kernel, exact, on every set with at most 10,000 rows
  (bostonHousing, energy, yacht, kin8nm, power-plant).
- ``matern52``: the same with an ARD Matern-5/2 kernel.
- ``sklearn``: scikit-learn's ``GaussianProcessRegressor(ConstantKernel * RBF(ARD) + WhiteKernel,
  normalize_y=False, n_restarts_optimizer=0)`` on the same standardised data and splits, as the
  reference; its optimiser is its own L-BFGS-B call (``scipy.optimize.minimize(method="L-BFGS-B",
  jac=True, bounds=...)``, default bounds (1e-5, 1e5)) with the same ``maxiter`` as bayeskit. It is
  skipped (and says so) where its gradient, which builds several (n, n, d + 2) arrays, would not fit
  in the memory available.
- ``sgpr``: ``bayeskit.gp.SGPR`` (Titsias' collapsed bound, ARD RBF, m = ``--num-inducing``
  inducing inputs chosen from the training inputs by k-means++ seeding with a key per split, then
  learned) on the sets with more than 10,000 rows (naval-propulsion-plant,
  protein-tertiary-structure).

bayeskit fits use ``num_restarts=--num-restarts`` (default 1, the same single start as
scikit-learn's ``n_restarts_optimizer=0``), ``max_iterations=--max-iterations`` and ``tol=1e-6``.

Cost: an exact fit at n ~ 8,600 training rows takes minutes on a 2-core machine, scikit-learn's
an hour (3,656 s for power-plant's first split, 25 iterations, on 2026-11-28). So the script
prints every split with the elapsed time, writes the results after every split, and records how
many splits each row used. Results of sets not run this time are kept from the previous JSON
(``--fresh`` starts over), so sets can be run one at a time. ``--resume`` also keeps, per set
and method, the splits already finished with the same settings and runs only the missing ones,
so that a slow reference can be completed over several sessions or machines; each split records
the machine it ran on, and a row whose splits come from several says so.

Run:  python benchmarks/uci_gp.py                                  (everything; many hours on 2 cores)
      python benchmarks/uci_gp.py --datasets yacht energy bostonHousing
      python benchmarks/uci_gp.py --datasets kin8nm --splits 5 --methods rbf matern52
      python benchmarks/uci_gp.py --datasets yacht --splits 2       (a smoke test)
      python benchmarks/uci_gp.py --datasets power-plant --methods sklearn --resume  (add splits)
      python benchmarks/uci_gp.py --datasets naval-propulsion-plant protein-tertiary-structure \
          --methods sgpr                             (SGPR, m = 500, all splits: about 1 min on an H100)
Writes results/uci_gp.json and results/uci_gp.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from _revision import bayeskit_version  # noqa: E402
from _uci import UCI_DATASETS, Standardizer, gaussian_scores, load_uci, mean_and_standard_error  # noqa: E402

from bayeskit.gp import GPR  # noqa: E402
from bayeskit.gp import kernels as K  # noqa: E402

try:  # SGPR is new; without it the sparse rows are skipped with the reason
    from bayeskit.gp import SGPR
except ImportError:
    try:
        from bayeskit.gp.sgpr import SGPR
    except ImportError as err:
        SGPR = None
        SGPR_ERROR = f"bayeskit.gp.SGPR is not available ({err})"

RESULTS = Path(__file__).parent / "results"
METHODS = ("rbf", "matern52", "sklearn", "sgpr")
LABELS = {
    "rbf": "bayeskit GPR, ARD RBF",
    "matern52": "bayeskit GPR, ARD Matern-5/2",
    "sklearn": "scikit-learn GPR, ARD RBF",
    "sgpr": "bayeskit SGPR, ARD RBF",
}
EXACT_MAX_ROWS = 10_000
TOL = 1e-6
START = {"lengthscale": 1.0, "variance": 1.0, "noise": 0.1}  # standardised units; noise is a variance
SEED = 20240905


def applies(method: str, rows: int) -> bool:
    return (method == "sgpr") == (rows > EXACT_MAX_ROWS)


# ------------------------------------------------------------------------------------- the methods
def fit_bayeskit(kernel_cls, X, y, X_test, args, split):
    d = X.shape[1]
    kernel = kernel_cls(lengthscale=jnp.full(d, START["lengthscale"]), variance=START["variance"])
    gp = GPR(kernel, noise=START["noise"]).fit(
        X, y, num_restarts=args.num_restarts, max_iterations=args.max_iterations, tol=TOL
    )
    pred = gp.predict(X_test)
    fit = gp.fit_info
    info = {"objective": fit.objective, "iterations": fit.num_iterations, "converged": fit.converged}
    info.update(noise=float(gp.noise), jitter=float(gp.jitter))
    info["lengthscale"] = np.atleast_1d(np.asarray(gp.kernel.lengthscale)).tolist()
    return np.asarray(pred.mean), np.asarray(pred.predictive_var), info


def fit_sgpr(X, y, X_test, args, split):
    d = X.shape[1]
    kernel = K.RBF(lengthscale=jnp.full(d, START["lengthscale"]), variance=START["variance"])
    m = min(args.num_inducing, X.shape[0])
    gp = SGPR(kernel, inducing_points=m, noise=START["noise"]).fit(
        X,
        y,
        key=jax.random.fold_in(jax.random.key(SEED), split),
        num_restarts=args.num_restarts,
        max_iterations=args.max_iterations,
        tol=TOL,
    )
    pred = gp.predict(X_test)
    fit = gp.fit_info
    info = {"objective": fit.objective, "iterations": fit.num_iterations, "converged": fit.converged}
    info.update(noise=float(gp.noise), num_inducing=m)
    return np.asarray(pred.mean), np.asarray(pred.predictive_var), info


def sklearn_skip_reason(n: int, d: int) -> str | None:
    """Where scikit-learn's gradient (three (n, n, d + 2) arrays and a few (n, n)) would not fit."""
    need = 8 * n * n * (3 * (d + 2) + 4)
    have = 1 << 62
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                have = int(line.split()[1]) * 1024
    except OSError:
        pass
    if need > 0.8 * have:
        return f"skipped: its gradient needs about {need / 2**30:.0f} GiB, {have / 2**30:.0f} GiB available"
    return None


def fit_sklearn(X, y, X_test, args, split):
    d = X.shape[1]
    record = {}

    def optimizer(obj_func, initial_theta, bounds):
        res = scipy.optimize.minimize(
            obj_func,
            initial_theta,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": args.max_iterations},
        )
        record.update(iterations=int(res.nit), converged=bool(res.success), message=str(res.message))
        return res.x, res.fun

    kernel = ConstantKernel(START["variance"]) * RBF(length_scale=np.full(d, START["lengthscale"]))
    kernel = kernel + WhiteKernel(noise_level=START["noise"])
    gpr = GaussianProcessRegressor(kernel, optimizer=optimizer, n_restarts_optimizer=0, normalize_y=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpr.fit(X, y)
    mean, sd = gpr.predict(X_test, return_std=True)  # the WhiteKernel makes this the predictive sd
    info = {"objective": float(gpr.log_marginal_likelihood_value_), **record}
    info["noise"] = float(gpr.kernel_.k2.noise_level)
    info["lengthscale"] = np.atleast_1d(gpr.kernel_.k1.k2.length_scale).tolist()
    # Which hyperparameters ended on one of scikit-learn's bounds (a reason for a poor optimum).
    names = [h.name for h in gpr.kernel_.hyperparameters for _ in range(h.n_elements)]
    bounds = gpr.kernel_.bounds
    on_bound = np.isclose(gpr.kernel_.theta, bounds[:, 0]) | np.isclose(gpr.kernel_.theta, bounds[:, 1])
    info["at_bounds"] = sorted({name for name, hit in zip(names, on_bound) if hit})
    return mean, sd**2, info


FITS = {
    "rbf": lambda *a: fit_bayeskit(K.RBF, *a),
    "matern52": lambda *a: fit_bayeskit(K.Matern52, *a),
    "sklearn": fit_sklearn,
    "sgpr": fit_sgpr,
}


# --------------------------------------------------------------------------------------- the runs
def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def summarise(method_result: dict) -> None:
    """Mean +- standard error of the per-split scores, in place."""
    ok = [s for s in method_result["splits"] if "rmse" in s]
    method_result["num_splits"] = len(ok)
    method_result["num_failed"] = len(method_result["splits"]) - len(ok)
    for key in ("rmse", "nll"):
        method_result[key] = list(mean_and_standard_error([s[key] for s in ok]))
    # A split whose run was paused (SIGSTOP, to keep a background run off a timed job) has a wall
    # time that is not a fit time: it is marked `timing_invalid` and left out of the mean.
    timed = [s["fit_s"] for s in ok if not s.get("timing_invalid")]
    method_result["fit_s_mean"] = float(np.mean(timed)) if timed else math.nan


def _where(device: str, cpu_count) -> str:
    """A device in words, with the core count for a CPU."""
    return f"cpu, {cpu_count} cores" if device == "cpu" else device


def _machine(method: str) -> str:
    """Where a method's fits run in this process."""
    return _where("cpu" if method == "sklearn" else _device(), os.cpu_count())


def _kept_splits(previous: dict | None, method: str, args) -> list[dict]:
    """With ``--resume``: the splits a previous run of ``method`` finished with these settings."""
    if not args.resume or previous is None:
        return []
    old = previous.get("methods", {}).get(method)
    if old is None or "skipped" in old:
        return []
    same = old.get("max_iterations", previous.get("max_iterations")) == args.max_iterations and (
        method == "sklearn" or old.get("num_restarts", previous.get("num_restarts")) == args.num_restarts
    )
    if not same:
        print(f"{method}: the previous splits used other settings; running every split", flush=True)
        return []
    machine = _where(old.get("device", "cpu"), old.get("cpu_count", "?"))
    return [{"machine": machine, **split} for split in old["splits"] if "error" not in split]


def run_dataset(name: str, args, started: float, on_progress, previous: dict | None = None) -> dict:
    X, y, splits = load_uci(name)
    total_splits = len(splits)
    splits = splits[: args.splits] if args.splits else splits
    rows, d = X.shape
    methods = [m for m in args.methods if applies(m, rows)]
    result = {
        "rows": rows,
        "features": d,
        "train_rows": int(splits[0][0].size),
        "splits_available": total_splits,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "max_iterations": args.max_iterations,
        "num_restarts": args.num_restarts,
        "load_start": os.getloadavg()[0],
        "methods": {},
    }
    for method in methods:
        entry = {
            "label": LABELS[method],
            "splits": _kept_splits(previous, method, args),
            "device": "cpu" if method == "sklearn" else _device(),
            "cpu_count": os.cpu_count(),
            "date": result["date"],
            "max_iterations": args.max_iterations,
            "num_restarts": 1 if method == "sklearn" else args.num_restarts,
        }
        if entry["splits"]:
            print(f"[{name}] {method}: kept {len(entry['splits'])} finished split(s) (--resume)", flush=True)
        if method == "sgpr" and SGPR is None:
            entry["skipped"] = SGPR_ERROR
        if method == "sklearn" and (reason := sklearn_skip_reason(int(splits[0][0].size), d)):
            entry["skipped"] = reason
        if "skipped" in entry:
            print(f"[{name}] {method}: {entry['skipped']}", flush=True)
        result["methods"][method] = entry
    print(
        f"[{name}] {rows:,} rows, {d} features, {result['train_rows']:,} training rows; "
        f"{len(splits)} of {total_splits} splits; methods: {', '.join(methods) or 'none'}",
        flush=True,
    )
    for k, (train, test) in enumerate(splits):
        x_std, y_std = Standardizer.fit(X[train]), Standardizer.fit(y[train])
        Xtr, ytr, Xte = x_std(X[train]), y_std(y[train]), x_std(X[test])
        for method in methods:
            entry = result["methods"][method]
            if "skipped" in entry or any(split["split"] == k for split in entry["splits"]):
                continue
            t0 = time.perf_counter()
            try:
                mean, var, info = FITS[method](Xtr, ytr, Xte, args, k)
            except Exception as err:  # one failed split is a result, not the end of the run
                entry["splits"].append({"split": k, "error": f"{type(err).__name__}: {err}"})
                print(
                    f"[{name} {k + 1}/{len(splits)}] {method}: FAILED {entry['splits'][-1]['error']}",
                    flush=True,
                )
                continue
            fit_s = time.perf_counter() - t0
            scores = gaussian_scores(y[test], y_std.inverse(mean), y_std.inverse_variance(var))
            standardised = gaussian_scores(y_std(y[test]), mean, var)
            # The units check: NLL in original units = standardised NLL + log(y_std).
            units_error = abs(scores["nll"] - (standardised["nll"] + math.log(float(y_std.std))))
            entry["splits"].append(
                {"split": k, **scores, "nll_standardised": standardised["nll"], "units_check": units_error}
                | {"fit_s": fit_s, "machine": _machine(method), **info}
            )
            entry["splits"].sort(key=lambda split: split["split"])
            print(
                f"[{name} {k + 1}/{len(splits)}] {method:8s} fit+predict {fit_s:7.1f} s, "
                f"{info.get('iterations', '?')} it; RMSE {scores['rmse']:.4f}, NLL {scores['nll']:.4f} "
                f"(elapsed {_clock(time.perf_counter() - started)})",
                flush=True,
            )
        for entry in result["methods"].values():
            summarise(entry)
        result["load_end"] = os.getloadavg()[0]
        on_progress(result)
    return result


# ---------------------------------------------------------------------------------------- report
def _device() -> str:
    """Where bayeskit's fits run, in words (``"cpu"`` or the accelerator's name)."""
    dev = jax.devices()[0]
    return "cpu" if dev.platform == "cpu" else f"{dev.platform}: {dev.device_kind}"


def merge_dataset(old: dict | None, new: dict) -> dict:
    """``new`` with the methods of ``old`` that it did not run (a set can be run method by method)."""
    if old is None:
        return new
    return {**old, **new, "methods": {**old.get("methods", {}), **new["methods"]}}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "numpy", "scipy", "scikit-learn", "bayeskit"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    out["bayeskit"] = bayeskit_version()  # with the commit the run measured
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _pm(pair, digits: int) -> str:
    mean, se = pair
    if not np.isfinite(mean):
        return "-"
    if 0 < abs(mean) < 10 ** (1 - digits):  # naval's RMSE is ~1e-4: fixed point would print 0.000
        return f"{mean:.2e} ± {se:.1e}" if np.isfinite(se) else f"{mean:.2e}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}" if np.isfinite(se) else f"{mean:.{digits}f}"


def versus_sklearn(ours: dict, ref: dict | None) -> str:
    """Paired comparison of test NLL over the splits both have: our NLL minus scikit-learn's."""
    if ref is None or "skipped" in ref or not ref.get("num_splits"):
        return "-"
    theirs = {s["split"]: s["nll"] for s in ref["splits"] if "nll" in s}
    diffs = [s["nll"] - theirs[s["split"]] for s in ours["splits"] if "nll" in s and s["split"] in theirs]
    if not diffs:
        return "-"
    mean, se = mean_and_standard_error(diffs)
    verdict = "yes" if mean <= 0 else ("within 2 SE" if np.isfinite(se) and mean <= 2 * se else "no")
    return f"{verdict} (Δ {mean:+.3f}" + (f" ± {se:.3f})" if np.isfinite(se) else ")")


def optimum_versus_sklearn(ours: dict, ref: dict | None) -> str:
    """Same model (ARD RBF): on how many splits bayeskit's log marginal likelihood is at least scikit-learn's."""
    if ref is None or "skipped" in ref:
        return "-"
    theirs = {s["split"]: s.get("objective") for s in ref["splits"]}
    pairs = [
        (s["objective"], theirs[s["split"]])
        for s in ours["splits"]
        if s.get("objective") is not None and theirs.get(s["split"]) is not None
    ]
    if not pairs:
        return "-"
    gains = [a - b for a, b in pairs]
    higher = sum(a - b >= -1e-6 * (1 + abs(b)) for a, b in pairs)
    return f"{higher} / {len(pairs)} (median {np.median(gains):+.1f})"


SHORT_LENGTHSCALE = 0.01  # standardised inputs: far below the spacing of any input's values


def _shortest(runs: dict, splits: list) -> float:
    """The median over ``splits`` of the shortest learned lengthscale."""
    return float(np.median([min(runs[k]["lengthscale"]) for k in splits]))


def _delta_nll(mine: dict, theirs: dict, splits: list) -> str:
    """Mean over ``splits`` of bayeskit's test NLL minus scikit-learn's."""
    return f"{np.mean([mine[k]['nll'] - theirs[k]['nll'] for k in splits]):+.3f}" if splits else "-"


def optima_table(payload: dict, order: list[str]) -> list[str]:
    """Where bayeskit's and scikit-learn's optima of the same model (ARD RBF) differ, and how.

    scikit-learn bounds every hyperparameter to [1e-5, 1e5]; a fit that ends on a bound is often a
    different local optimum. A lengthscale far below the spacing of an input's values makes the
    kernel treat that input as a category; this table counts the splits where scikit-learn's
    optimum does that and compares the test NLL there and elsewhere (splits where both runs
    recorded lengthscales).
    """
    rows = []
    for name in order:
        methods = payload["datasets"][name]["methods"]
        sk, ours = methods.get("sklearn"), methods.get("rbf")
        if not sk or "skipped" in sk or not sk.get("splits"):
            continue
        on_bound = [s for s in sk["splits"] if s.get("at_bounds")]
        which = sorted({b for s in on_bound for b in s["at_bounds"]})
        theirs = {s["split"]: s for s in sk["splits"] if s.get("lengthscale")}
        mine = {s["split"]: s for s in (ours or {}).get("splits", []) if s.get("lengthscale")}
        both = sorted(set(theirs) & set(mine))
        row = f"| {name} | {len(on_bound)} / {len(sk['splits'])}" + (
            f" ({', '.join(which)})" if which else ""
        )
        if not both:
            rows.append(row + " | - | - | - | - |")
            continue
        short = {
            k: tuple(int(j) for j in np.flatnonzero(np.asarray(theirs[k]["lengthscale"]) < SHORT_LENGTHSCALE))
            for k in both
        }
        patterns = {}
        for k in both:
            if short[k]:
                key = ", ".join(f"x{j + 1}" for j in short[k])
                patterns[key] = patterns.get(key, 0) + 1
        described = "; ".join(f"{key}: {n}" for key, n in sorted(patterns.items(), key=lambda kv: -kv[1]))
        with_short = [k for k in both if short[k]]
        without = [k for k in both if not short[k]]
        rows.append(
            row
            + f" | {len(with_short)} / {len(both)}"
            + (f" ({described})" if described else "")
            + f" | {_shortest(mine, both):.3g} / {_shortest(theirs, both):.3g} | {_delta_nll(mine, theirs, with_short)} | {_delta_nll(mine, theirs, without)} |"
        )
    if not rows:
        return []
    return [
        "",
        f"**Where the optima differ** (ARD RBF, the same model in both libraries). scikit-learn bounds every "
        "hyperparameter to [1e-5, 1e5]: the splits where its fit ended on a bound; the splits where its "
        f"optimum has a lengthscale below {SHORT_LENGTHSCALE} (standardised inputs; x1 is the first input "
        "column), which treats that input as a category, and the test NLL difference (bayeskit minus "
        "scikit-learn, mean over splits) on those splits and on the others. Lengthscales were recorded from "
        "2026-11-28 on; sets run before then show '-'. A higher marginal likelihood (the column above) is "
        "not a promise of a lower test NLL.",
        "",
        "| dataset | scikit-learn on a bound (splits) | scikit-learn with a lengthscale < "
        f"{SHORT_LENGTHSCALE} (splits; which inputs) | median shortest lengthscale: bayeskit / scikit-learn "
        "| Δ NLL on those splits | Δ NLL on the others |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def render(payload: dict) -> str:
    meta = payload["meta"]
    lines = [
        "# UCI regression: bayeskit GPs vs scikit-learn (standard 90/10 splits)",
        "",
        f"Machine of the last run: {meta['cpu']} ({meta['cpu_count']} cores), {meta['platform']}; float64; "
        "each row's settings say the device it ran on (a GPU row's fit time is not comparable with a CPU "
        "row's). "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".",
        "",
        "Protocol: `../shared/data/uci/README.md` (loader `benchmarks/_uci.py`): X and y standardised on the "
        "training split (constant columns: std 1), scores in the ORIGINAL units of y, mean ± standard error "
        "over splits (std / sqrt(k)). Test NLL is the mean negative log predictive density per point (noise "
        "included; lower is better; the literature's test log-likelihood is its negative). All models start "
        "from lengthscales 1, variance 1, noise variance 0.1 (standardised units) and maximise the marginal "
        "likelihood (SGPR: Titsias' bound) by L-BFGS, one start; exact GPR on sets up to 10,000 rows, SGPR "
        "above. scikit-learn: `ConstantKernel * RBF(ARD) + WhiteKernel`, `normalize_y=False`, "
        "`n_restarts_optimizer=0`, its L-BFGS-B with the same iteration cap. Details: `benchmarks/uci_gp.py`.",
        "",
        "**Goal (issue 5)**: NLL no worse than scikit-learn's on every set. The column compares per split "
        "(paired): Δ = mean over splits of (bayeskit NLL - scikit-learn NLL) ± its standard error; 'yes' when "
        "Δ <= 0. The next column compares the optimum reached on the same model (ARD RBF): on how many splits "
        "bayeskit's log marginal likelihood is at least scikit-learn's, and the median difference in nats; "
        "a higher optimum does not promise a lower test NLL.",
        "",
        "| dataset | rows (train) | d | method | splits | test RMSE | test NLL | NLL no worse than scikit-learn "
        "| log marginal likelihood >= scikit-learn's (splits) | fit + predict per split (s) | settings |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = [n for n in UCI_DATASETS if n in payload["datasets"]]
    for name in order:
        ds = payload["datasets"][name]
        ref = ds["methods"].get("sklearn")
        for method in METHODS:
            entry = ds["methods"].get(method)
            if entry is None:
                continue
            head = f"| {name} | {ds['rows']:,} ({ds['train_rows']:,}) | {ds['features']} | {entry['label']} |"
            if "skipped" in entry:
                lines.append(f"{head} 0 / {ds['splits_available']} | {entry['skipped']} | | | | | |")
                continue
            splits = f"{entry['num_splits']} / {ds['splits_available']}"
            if entry.get("num_failed"):
                splits += f" ({entry['num_failed']} failed)"
            versus = versus_sklearn(entry, ref) if method in ("rbf", "matern52") else "-"
            optimum = optimum_versus_sklearn(entry, ref) if method == "rbf" else "-"
            get = lambda key: entry.get(key, ds.get(key))  # noqa: B023 (older entries: per data set)
            device = _where(entry.get("device", "cpu"), entry.get("cpu_count", payload["meta"]["cpu_count"]))
            machines = sorted({split["machine"] for split in entry["splits"] if "machine" in split})
            if len(machines) > 1:  # splits added with --resume on other machines
                counts = {m: sum(split.get("machine") == m for split in entry["splits"]) for m in machines}
                device = " + ".join(f"{m} ({counts[m]} split{'s' * (counts[m] > 1)})" for m in machines)
            settings = (
                f"max_iter {get('max_iterations')}, "
                f"{1 if method == 'sklearn' else get('num_restarts')} start(s), {device}, {get('date')[:10]}"
            )
            if method == "sgpr" and entry["splits"]:
                settings = f"m = {entry['splits'][0].get('num_inducing', '?')}, " + settings
            lines.append(
                f"{head} {splits} | {_pm(entry['rmse'], 3)} | {_pm(entry['nll'], 3)} | {versus} | {optimum} | "
                f"{entry['fit_s_mean']:.1f} | {settings} |"
            )
    lines += optima_table(payload, order)
    lines += [
        "",
        "Fit time is wall time per split, fit and test prediction, the first split's compilation included "
        "(bayeskit reuses its compiled objective across splits of the same size). Load averages at the "
        "start of each set: "
        + ", ".join(f"{n} {payload['datasets'][n].get('load_start', math.nan):.1f}" for n in order)
        + ". scikit-learn's splits above 1,000 rows ran in the background (`nice`, `--resume`) while "
        "other work used the machine, so their times are upper bounds; splits known to have been "
        "paused are left out of the mean (`timing_invalid` in the JSON).",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=UCI_DATASETS, default=list(UCI_DATASETS))
    parser.add_argument("--splits", type=int, default=None, help="the first N splits (default: all)")
    parser.add_argument("--max-iterations", type=int, default=200, help="L-BFGS iterations, every method")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--num-inducing", type=int, default=500, help="SGPR inducing points")
    parser.add_argument("--num-restarts", type=int, default=1, help="bayeskit L-BFGS starts")
    parser.add_argument("--fresh", action="store_true", help="drop the results of sets not run now")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep each method's finished splits (same settings) and run only the missing ones",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for uci_gp.json / .md")
    parser.add_argument(
        "--merge-from",
        nargs="+",
        type=Path,
        default=(),
        help="only merge these uci_gp.json files' methods into the results (e.g. from another machine)",
    )
    args = parser.parse_args()

    path = args.out / "uci_gp.json"
    payload = {"datasets": {}}
    if path.exists() and not args.fresh:
        payload = json.loads(path.read_text())
    if args.merge_from:
        for other in args.merge_from:
            for name, ds in json.loads(other.read_text())["datasets"].items():
                payload["datasets"][name] = merge_dataset(payload["datasets"].get(name), ds)
        order = {n: i for i, n in enumerate(UCI_DATASETS)}
        payload["datasets"] = dict(sorted(payload["datasets"].items(), key=lambda kv: order[kv[0]]))
        path.write_text(json.dumps(payload, indent=2))
        (args.out / "uci_gp.md").write_text(render(payload))
        print(render(payload))
        return
    payload["meta"] = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions(),
    }
    order = {n: i for i, n in enumerate(UCI_DATASETS)}

    previous = dict(payload["datasets"])

    def save(name, result):
        # Re-read the file: another run may have saved other sets since this one started.
        if path.exists():
            payload["datasets"] = json.loads(path.read_text())["datasets"]
        payload["datasets"][name] = merge_dataset(previous.get(name), result)
        payload["datasets"] = dict(sorted(payload["datasets"].items(), key=lambda kv: order[kv[0]]))
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2))
        (args.out / "uci_gp.md").write_text(render(payload))

    started = time.perf_counter()
    for name in sorted(args.datasets, key=order.get):
        progress = lambda result, name=name: save(name, result)  # noqa: E731
        save(name, run_dataset(name, args, started, progress, previous.get(name)))
    print("\n" + render(payload))
    print(f"Total: {_clock(time.perf_counter() - started)}")


if __name__ == "__main__":
    main()
