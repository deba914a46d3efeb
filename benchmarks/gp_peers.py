"""bayeskit exact GP regression against scikit-learn, GPyTorch and tinygp, in one run on one machine.

The model everywhere: zero mean, ARD RBF kernel ``variance * exp(-0.5 sum_d (x_d - x'_d)^2 / l_d^2)``
plus Gaussian noise, float64 on the CPU, d = 8. Data (fixed seed per n): X uniform on [-2, 2]^8,
y = a smooth function of the first seven columns (the eighth is irrelevant, so ARD matters) plus
N(0, 0.1^2) noise, centred; 1,000 test points from the same distribution.

(a) One evaluation of the log marginal likelihood and its gradient with respect to the 10 log
    hyperparameters, at the same hyperparameters (lengthscales 1, variance 1, noise variance 0.1),
    warm (after compilation), median of ``--repeats`` interleaved rounds:

    - bayeskit: ``eqx.filter_jit(eqx.filter_value_and_grad(bayeskit.gp.gpr._log_marginal))``, the
      objective ``GPR.fit`` maximises (closed-form gradient of the Cholesky-based density).
    - scikit-learn: ``GaussianProcessRegressor.log_marginal_likelihood(theta, eval_gradient=True)``
      with ``ConstantKernel * RBF(ARD) + WhiteKernel`` and ``alpha=0`` (so it is the same model).
    - GPyTorch: ``ExactGP`` with ``ZeroMean``, ``ScaleKernel(RBFKernel(ard_num_dims=8))`` and a
      ``GaussianLikelihood``, in float64; ``-ExactMarginalLogLikelihood`` forward and
      ``backward()``. Exact Cholesky algebra is forced with
      ``gpytorch.settings.fast_computations(covar_root_decomposition=False, log_prob=False,
      solves=False)`` and ``gpytorch.settings.max_cholesky_size(10**9)`` (otherwise GPyTorch uses
      conjugate gradients and stochastic Lanczos log-determinants above n = 800). Torch runs
      ``torch.set_num_threads(os.cpu_count())`` threads.
    - tinygp: ``jax.jit(jax.value_and_grad(...))`` of ``GaussianProcess(variance *
      transforms.Linear(1 / lengthscale, kernels.ExpSquared()), X, diag=noise).log_probability(y)``
      (its default dense ``DirectSolver``; JAX autodiff through the Cholesky).

    Each is reported as a ratio to the bare Cholesky floor at the same n: the faster of a jitted
    ``jnp.linalg.cholesky`` and ``scipy.linalg.cholesky(check_finite=False)`` of the same
    ``K + noise I`` (both reported). The JAX libraries' compile time (first call, tracing +
    lowering + XLA compilation spans from ``jax.monitoring``) is reported separately. The values
    and gradients of all four are compared (GPyTorch's gradient with respect to its softplus raw
    parameters is mapped to the log scale), so they are known to compute the same thing.

(b) A fit from the same starting hyperparameters with the same optimiser budget, L-BFGS with at
    most ``--max-iterations`` iterations, history 10, one start, and the same stopping tolerance
    on the gradient of the per-point objective (``-log ML / n``, max-norm < 1e-6):

    - bayeskit: ``GPR(RBF(lengthscale=ones(8)), noise=0.1).fit(X, y, num_restarts=1,
      max_iterations=M, tol=1e-6)`` (scipy's L-BFGS-B on the host, unbounded and with
      ``ftol=0``, around one compiled value and gradient of ``-log ML / n``).
    - scikit-learn: ``GaussianProcessRegressor(kernel, alpha=0, optimizer=<callable>,
      n_restarts_optimizer=0)``; the callable is what scikit-learn's default ``"fmin_l_bfgs_b"``
      does (``scipy.optimize.minimize(method="L-BFGS-B", jac=True, bounds=...)``) plus
      ``maxiter=M`` and ``gtol=1e-6 n`` (its objective is the unscaled ``-log ML``). Default bounds
      (1e-5, 1e5) on every hyperparameter.
    - GPyTorch: ``torch.optim.LBFGS(lr=1, max_iter=M, history_size=10, tolerance_grad=1e-6,
      line_search_fn="strong_wolfe", max_eval=25 M)``, one full-batch ``step(closure)`` (the
      default ``max_eval = 1.25 M`` would cut it short of M iterations, which the other libraries
      are not; ``tolerance_change=1e-9`` as by default); its parameters are softplus-transformed
      (GPyTorch's default; the noise is bounded below by 1e-4). ``--gpytorch-optimizer adam``
      runs Adam (lr 0.1) for M iterations instead, in case L-BFGS misbehaves.
    - tinygp: ``scipy.optimize.minimize(method="L-BFGS-B", jac=True, options={"maxiter": M,
      "gtol": 1e-6})`` on the jitted value-and-gradient of ``-log ML / n`` over log
      hyperparameters (tinygp has no optimiser of its own; its documentation uses scipy or
      jaxopt, and jaxopt is not installed here), then the ``GaussianProcess`` at the optimum is
      built (it factorises the covariance, as bayeskit's and scikit-learn's fits do at the end).

    Reported: wall time (JAX libraries: compile included, and excluded = wall minus the compile
    spans), iterations and objective evaluations where the library says, the log marginal
    likelihood at each library's final hyperparameters computed by one common NumPy/SciPy
    evaluator (so "equal or better optimum" is checked on the same function), and the time to
    predict mean and variance at 1,000 test points: the first call after the fit (compilation
    for the JAX libraries, and GPyTorch's lazily built prediction cache, which factorises the
    training covariance) and warm (median of repeats).

scikit-learn's gradient builds several (n, n, 10) arrays; it is skipped (and says so) at sizes where
that would not fit in the memory available (n = 10,000 needs about 27 GB).

Run:  python benchmarks/gp_peers.py                          (n = 1,000 to 10,000; hours on 2 cores)
      python benchmarks/gp_peers.py --sizes 1000 2000 --skip-fit
      python benchmarks/gp_peers.py --sizes 500 --max-iterations 5          (a smoke test)
      python benchmarks/gp_peers.py --sizes 5000 --max-iterations 10 --tag n5000_10it
                                   (fits at n = 5,000 with a 10-iteration budget, about 10 min)
      python benchmarks/gp_peers.py --sizes 10000 --max-iterations 5 --repeats 1 --tag n10000_5it
                                   (n = 10,000, a 5-iteration budget, about 31 min)
      python benchmarks/gp_peers.py --device gpu --tag gpu_h100
                                   (on a GPU machine: bayeskit, GPyTorch on CUDA and tinygp; no
                                   scikit-learn, which has no GPU; the floor is the faster Cholesky)
Writes results/gp_peers.json and results/gp_peers.md (after every size, so a long run keeps what
it finished); with ``--tag T``, results/gp_peers_T.json and .md instead.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import gpytorch  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.optimize  # noqa: E402
import tinygp  # noqa: E402
import torch  # noqa: E402
from _revision import bayeskit_version  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel  # noqa: E402

from bayeskit.gp import GPR, ZeroMean  # noqa: E402
from bayeskit.gp import kernels as K  # noqa: E402
from bayeskit.gp.gpr import _Hyper, _log_marginal  # noqa: E402

torch.set_num_threads(os.cpu_count() or 1)

RESULTS = Path(__file__).parent / "results"
PEERS = ("sklearn", "gpytorch", "tinygp")
LIBRARIES = ("bayeskit", *PEERS)
JAX_LIBRARIES = ("bayeskit", "tinygp")
SEED = 20240905
D = 8
NUM_TEST = 1000
NOISE_SD = 0.1
TOL = 1e-6  # max-norm of the gradient of -log ML / n at which every optimiser may stop
START = {"lengthscale": 1.0, "variance": 1.0, "noise": 0.1}  # noise is a variance
SAME_OPTIMUM_NATS = 0.01  # "equal or better optimum": within this many nats of the best
JAX_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


# ------------------------------------------------------------------------------------------ data
def make_data(n: int, seed: int = SEED):
    """Training ``(X, y)`` of size n and ``NUM_TEST`` test inputs; the same seed gives the same data."""
    rng = np.random.default_rng([seed, n])
    X = rng.uniform(-2.0, 2.0, size=(n + NUM_TEST, D))
    f = (
        np.sin(1.5 * X[:, 0])
        + 0.5 * np.cos(X[:, 1]) * X[:, 2]
        + 0.3 * X[:, 3] ** 2
        + 0.5 * np.tanh(X[:, 4])
        + 0.2 * np.sin(3.0 * X[:, 5])
        + 0.1 * X[:, 6]
    )
    y = f + NOISE_SD * rng.standard_normal(n + NUM_TEST)
    y = y - y[:n].mean()
    return X[:n], y[:n], X[n:], y[n:]


def start_theta() -> np.ndarray:
    """Log hyperparameters ``[log l_1..l_d, log variance, log noise]`` at the common start."""
    return np.log(np.r_[np.full(D, START["lengthscale"]), START["variance"], START["noise"]])


def split_theta(theta) -> tuple[np.ndarray, float, float]:
    theta = np.asarray(theta, dtype=np.float64)
    return np.exp(theta[:D]), float(np.exp(theta[D])), float(np.exp(theta[D + 1]))


def rbf_matrix(X1, X2, lengthscale, variance) -> np.ndarray:
    A, B = X1 / lengthscale, X2 / lengthscale
    r2 = np.sum(A * A, 1)[:, None] + np.sum(B * B, 1)[None, :] - 2.0 * A @ B.T
    return variance * np.exp(-0.5 * np.maximum(r2, 0.0))


def covariance(X, theta) -> np.ndarray:
    ls, var, noise = split_theta(theta)
    Kxx = rbf_matrix(X, X, ls, var)
    Kxx[np.diag_indices_from(Kxx)] = var + noise
    return Kxx


def common_log_ml(X, y, hyper: dict) -> float:
    """The exact log marginal likelihood at given hyperparameters: one evaluator for every library."""
    theta = np.log(np.r_[hyper["lengthscale"], hyper["variance"], hyper["noise"]])
    try:
        c, lower = scipy.linalg.cho_factor(covariance(X, theta), lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return -math.inf
    alpha = scipy.linalg.cho_solve((c, lower), y, check_finite=False)
    n = y.shape[0]
    return float(-0.5 * y @ alpha - np.sum(np.log(np.diag(c))) - 0.5 * n * math.log(2.0 * math.pi))


# -------------------------------------------------------------------------------- measurement aids
class JaxCompileClock:
    """Seconds JAX spends tracing, lowering and compiling inside a ``with`` block (overlaps merged)."""

    def __init__(self):
        self._spans: list[tuple[float, float]] = []
        self._on = False
        jax.monitoring.register_event_time_span_listener(self._record)

    def _record(self, event, start, end, **_):
        if self._on and event in JAX_COMPILE_EVENTS:
            self._spans.append((start, end))

    def __enter__(self):
        self._spans, self._on = [], True
        return self

    def __exit__(self, *exc):
        self._on = False

    @property
    def seconds(self) -> float:
        covered, reach = 0.0, -math.inf
        for start, end in sorted(self._spans):
            covered += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        return covered


CLOCK = JaxCompileClock()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def first_call(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, JAX compile seconds, result) of a call."""
    with CLOCK:
        wall, out = timed(fn)
    return wall, CLOCK.seconds, out


def memory_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def sklearn_gradient_bytes(n: int, num_params: int = D + 2) -> int:
    """Rough peak of scikit-learn's gradient: three (n, n, p) arrays (kernel gradients, stacked
    through the product and sum kernels) and a few (n, n) ones."""
    return 8 * n * n * (3 * num_params + 4)


def sklearn_skip_reason(n: int) -> str | None:
    need, have = sklearn_gradient_bytes(n), memory_available()
    if need > 0.8 * have:
        return f"skipped: its gradient needs about {need / 2**30:.0f} GiB, {have / 2**30:.0f} GiB available"
    return None


# ----------------------------------------------------------------------------------- the libraries
class Bayeskit:
    name = "bayeskit"

    def __init__(self, X, y):
        self.X, self.y = jnp.asarray(X), jnp.asarray(y)
        self._value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(_log_marginal))

    @staticmethod
    def hyper(theta) -> _Hyper:
        ls, var, noise = split_theta(theta)
        kernel = K.RBF(lengthscale=jnp.asarray(ls), variance=var)
        return _Hyper(kernel, ZeroMean(), jnp.log(jnp.asarray(noise)))

    def value_and_grad_fn(self, theta):
        hyper = self.hyper(theta)

        def run():
            value, g = self._value_and_grad(hyper, self.X, self.y)
            grad = np.r_[
                np.asarray(g.kernel.log_lengthscale), float(g.kernel.log_variance), float(g.log_noise)
            ]
            return float(value), grad

        return run

    def fit(self, max_iterations: int):
        ls, var, noise = split_theta(start_theta())
        model = GPR(K.RBF(lengthscale=jnp.asarray(ls), variance=var), noise=noise, standardize=False)
        gp = model.fit(self.X, self.y, num_restarts=1, max_iterations=max_iterations, tol=TOL)
        jax.block_until_ready(gp.cholesky)
        info = gp.fit_info
        return {
            "model": gp,
            "own_log_ml": float(gp.log_marginal_likelihood()),
            "iterations": info.num_iterations,
            "evaluations": info.num_evaluations,
            "converged": info.converged,
            "message": f"grad max-norm {info.grad_norm:.2e}",
            "hyper": {
                "lengthscale": np.asarray(gp.kernel.lengthscale).tolist(),
                "variance": float(gp.kernel.variance),
                "noise": float(gp.noise),
            },
        }

    @staticmethod
    def predict_fn(fitted, X_test):
        gp, X_test = fitted["model"], jnp.asarray(X_test)

        def run():
            pred = gp.predict(X_test)
            return jax.block_until_ready((pred.mean, pred.predictive_var))

        return run


class Sklearn:
    name = "sklearn"

    def __init__(self, X, y):
        self.X, self.y = X, y

    @staticmethod
    def kernel(theta):
        ls, var, noise = split_theta(theta)
        return ConstantKernel(var) * RBF(length_scale=ls) + WhiteKernel(noise_level=noise)

    def value_and_grad_fn(self, theta):
        gpr = GaussianProcessRegressor(self.kernel(theta), alpha=0.0, optimizer=None).fit(self.X, self.y)
        k_theta = gpr.kernel_.theta  # [log variance, log l_1..l_d, log noise]

        def run():
            value, g = gpr.log_marginal_likelihood(k_theta, eval_gradient=True)
            return float(value), np.r_[g[1 : D + 1], g[0], g[D + 1]]

        return run

    def fit(self, max_iterations: int):
        n = self.y.shape[0]
        record = {}

        def optimizer(obj_func, initial_theta, bounds):
            calls = [0]

            def counted(theta):
                calls[0] += 1
                return obj_func(theta)

            res = scipy.optimize.minimize(
                counted,
                initial_theta,
                method="L-BFGS-B",
                jac=True,
                bounds=bounds,
                options={"maxiter": max_iterations, "gtol": TOL * n},
            )
            record.update(iterations=int(res.nit), evaluations=calls[0], message=str(res.message))
            record["converged"] = bool(res.success)
            return res.x, res.fun

        gpr = GaussianProcessRegressor(
            self.kernel(start_theta()), alpha=0.0, optimizer=optimizer, n_restarts_optimizer=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gpr.fit(self.X, self.y)
        k = gpr.kernel_
        return {
            "model": gpr,
            "own_log_ml": float(gpr.log_marginal_likelihood_value_),
            **record,
            "hyper": {
                "lengthscale": np.atleast_1d(k.k1.k2.length_scale).tolist(),
                "variance": float(k.k1.k1.constant_value),
                "noise": float(k.k2.noise_level),
            },
        }

    @staticmethod
    def predict_fn(fitted, X_test):
        gpr = fitted["model"]
        return lambda: gpr.predict(X_test, return_std=True)


class _ExactGP(gpytorch.models.ExactGP):
    def __init__(self, X, y, likelihood):
        super().__init__(X, y, likelihood)
        self.mean_module = gpytorch.means.ZeroMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel(ard_num_dims=D))

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@contextlib.contextmanager
def gpytorch_cholesky():
    """The settings under which GPyTorch uses Cholesky factorisations at every size."""
    with (
        gpytorch.settings.fast_computations(covar_root_decomposition=False, log_prob=False, solves=False),
        gpytorch.settings.max_cholesky_size(10**9),
    ):
        yield


class GPyTorch:
    name = "gpytorch"
    optimizer = "lbfgs"
    device = torch.device("cpu")  # "cuda" with --device gpu

    def __init__(self, X, y):
        self.X = self.tensor(X)
        self.y = self.tensor(y)

    def tensor(self, x):
        return torch.as_tensor(x, dtype=torch.float64, device=self.device)

    def model(self, theta):
        ls, var, noise = split_theta(theta)
        likelihood = gpytorch.likelihoods.GaussianLikelihood()
        model = _ExactGP(self.X, self.y, likelihood).double().to(self.device)
        model.covar_module.base_kernel.lengthscale = self.tensor(ls).reshape(1, D)
        model.covar_module.outputscale = self.tensor(var)
        model.likelihood.noise = self.tensor([noise])
        model.train()
        return model, gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)

    @staticmethod
    def log_scale_grad(model) -> np.ndarray:
        """d log ML / d log(hyperparameter), from the gradient of the loss in the raw parameters."""
        n = model.train_targets.shape[0]
        out = []
        kern = model.covar_module
        for raw, value in (
            (kern.base_kernel.raw_lengthscale, kern.base_kernel.lengthscale),
            (kern.raw_outputscale, kern.outputscale),
            (model.likelihood.noise_covar.raw_noise, model.likelihood.noise),
        ):
            # value = softplus(raw) (+ a lower bound): d value / d raw = sigmoid(raw).
            g = -n * raw.grad.detach() * value.detach().reshape(raw.shape) / torch.sigmoid(raw.detach())
            out.append(g.reshape(-1).cpu().numpy())
        return np.concatenate(out)

    def value_and_grad_fn(self, theta):
        model, mll = self.model(theta)
        n = self.y.shape[0]

        def run():
            model.zero_grad(set_to_none=True)
            with gpytorch_cholesky():
                loss = -mll(model(self.X), self.y)
                loss.backward()
            return -n * float(loss.detach()), self.log_scale_grad(model)

        return run

    def fit(self, max_iterations: int):
        model, mll = self.model(start_theta())
        params = list(model.parameters())
        if self.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=0.1)
            with gpytorch_cholesky():
                for _ in range(max_iterations):
                    opt.zero_grad(set_to_none=True)
                    loss = -mll(model(self.X), self.y)
                    loss.backward()
                    opt.step()
            stats = {"iterations": max_iterations, "evaluations": max_iterations, "message": "Adam, lr 0.1"}
        else:
            opt = torch.optim.LBFGS(
                params,
                lr=1.0,
                max_iter=max_iterations,
                max_eval=25 * max_iterations,  # bounded by iterations, like the others
                history_size=10,
                tolerance_grad=TOL,
                line_search_fn="strong_wolfe",
            )

            def closure():
                opt.zero_grad(set_to_none=True)
                loss = -mll(model(self.X), self.y)
                loss.backward()
                return loss

            with gpytorch_cholesky():
                opt.step(closure)
            state = opt.state[params[0]]
            stats = {
                "iterations": int(state.get("n_iter", 0)),
                "evaluations": int(state.get("func_evals", 0)),
                "message": "torch.optim.LBFGS (strong Wolfe)",
            }
        with torch.no_grad(), gpytorch_cholesky():
            own = float(mll(model(self.X), self.y)) * self.y.shape[0]
        kern = model.covar_module
        return {
            "model": model,
            "own_log_ml": own,
            "converged": None,
            **stats,
            "hyper": {
                "lengthscale": kern.base_kernel.lengthscale.detach().reshape(-1).tolist(),
                "variance": float(kern.outputscale.detach()),
                "noise": float(model.likelihood.noise.detach().reshape(-1)[0]),
            },
        }

    def predict_fn(self, fitted, X_test):
        model = fitted["model"]
        model.eval()
        model.likelihood.eval()
        X_test = self.tensor(X_test)

        def run():
            with torch.no_grad(), gpytorch_cholesky():
                pred = model.likelihood(model(X_test))
                return pred.mean.cpu().numpy(), pred.variance.cpu().numpy()

        return run


def tinygp_process(theta, X):
    ls, var, noise = jnp.exp(theta[:D]), jnp.exp(theta[D]), jnp.exp(theta[D + 1])
    kernel = var * tinygp.transforms.Linear(1.0 / ls, tinygp.kernels.ExpSquared())
    return tinygp.GaussianProcess(kernel, X, diag=noise)


class TinyGP:
    name = "tinygp"

    def __init__(self, X, y):
        self.X, self.y = jnp.asarray(X), jnp.asarray(y)

    def value_and_grad_fn(self, theta):
        vg = jax.jit(jax.value_and_grad(lambda t, X, y: tinygp_process(t, X).log_probability(y)))
        theta = jnp.asarray(theta)

        def run():
            value, grad = vg(theta, self.X, self.y)
            return float(value), np.asarray(grad)

        return run

    def fit(self, max_iterations: int):
        n = self.y.shape[0]
        # A fresh function object, so that this fit compiles its own code as bayeskit's fit does.
        loss_vg = jax.jit(jax.value_and_grad(lambda t, X, y: -tinygp_process(t, X).log_probability(y) / n))
        calls = [0]

        def fun(theta):
            calls[0] += 1
            value, grad = loss_vg(jnp.asarray(theta), self.X, self.y)
            return float(value), np.asarray(grad, dtype=np.float64)

        res = scipy.optimize.minimize(
            fun,
            start_theta(),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iterations, "gtol": TOL},
        )
        gp = jax.block_until_ready(jax.jit(tinygp_process)(jnp.asarray(res.x), self.X))
        ls, var, noise = split_theta(res.x)
        return {
            "model": gp,
            "own_log_ml": float(-res.fun * n),
            "iterations": int(res.nit),
            "evaluations": calls[0],
            "converged": bool(res.success),
            "message": str(res.message),
            "hyper": {"lengthscale": ls.tolist(), "variance": var, "noise": noise},
        }

    def predict_fn(self, fitted, X_test):
        gp, X_test, noise = fitted["model"], jnp.asarray(X_test), fitted["hyper"]["noise"]

        @jax.jit
        def predict(gp, y, X_test):
            cond = gp.condition(y, X_test).gp
            return cond.loc, cond.variance + noise

        return lambda: jax.block_until_ready(predict(gp, self.y, X_test))


LIBRARY_CLASSES = {"bayeskit": Bayeskit, "sklearn": Sklearn, "gpytorch": GPyTorch, "tinygp": TinyGP}


# ------------------------------------------------------------------------------------ measurements
def cholesky_floor(X, repeats: int) -> dict:
    Kxx = covariance(X, start_theta())
    Kj = jnp.asarray(Kxx)
    chol = jax.jit(jnp.linalg.cholesky)
    jax.block_until_ready(chol(Kj))
    scipy.linalg.cholesky(Kxx, lower=True, check_finite=False)
    jnp_times, scipy_times = [], []
    for _ in range(repeats):
        jnp_times.append(timed(lambda: jax.block_until_ready(chol(Kj)))[0])
        scipy_times.append(timed(lambda: scipy.linalg.cholesky(Kxx, lower=True, check_finite=False))[0])
    out = {"jnp_s": float(np.median(jnp_times)), "scipy_s": float(np.median(scipy_times))}
    out["floor_s"] = min(out["jnp_s"], out["scipy_s"])
    return out


def measure_value_and_grad(libs: dict, X, repeats: int) -> dict:
    """Warm median time of one value-and-gradient per library, interleaved; values compared."""
    theta = start_theta()
    floor = cholesky_floor(X, repeats)
    print(f"   Cholesky floor: jnp {floor['jnp_s']:.4f} s, scipy {floor['scipy_s']:.4f} s", flush=True)
    runs, out = {}, {"cholesky": floor, "libraries": {}}
    for name, lib in libs.items():
        if name == "sklearn" and (reason := sklearn_skip_reason(X.shape[0])):
            out["libraries"][name] = {"skipped": reason}
            print(f"   {name}: {reason}", flush=True)
            continue
        run = lib.value_and_grad_fn(theta)
        wall, compile_s, (value, grad) = first_call(run)
        runs[name] = run
        out["libraries"][name] = {
            "first_call_s": wall,
            "compile_s": compile_s if name in JAX_LIBRARIES else None,
            "value": value,
            "grad": grad.tolist(),
            "times_s": [],
        }
    for _ in range(repeats):
        for name, run in runs.items():
            out["libraries"][name]["times_s"].append(timed(run)[0])
    ref = out["libraries"].get("bayeskit", {})
    for name in runs:
        r = out["libraries"][name]
        r["median_s"] = float(np.median(r["times_s"]))
        r["over_floor"] = r["median_s"] / floor["floor_s"]
        if "value" in ref:
            r["value_diff"] = r["value"] - ref["value"]
            g, g0 = np.asarray(r["grad"]), np.asarray(ref["grad"])
            r["grad_rel_diff"] = float(np.max(np.abs(g - g0)) / max(np.max(np.abs(g0)), 1e-300))
        compile_note = f", compile {r['compile_s']:.2f} s" if r["compile_s"] is not None else ""
        print(
            f"   value+grad {name}: {r['median_s']:.4f} s = {r['over_floor']:.1f}x floor{compile_note}; "
            f"log ML {r['value']:.6f}",
            flush=True,
        )
    return out


def measure_fit(libs: dict, X, y, X_test, max_iterations: int, repeats: int) -> dict:
    out = {}
    for name, lib in libs.items():
        if name == "sklearn" and (reason := sklearn_skip_reason(X.shape[0])):
            out[name] = {"skipped": reason}
            print(f"   fit {name}: {reason}", flush=True)
            continue
        try:
            wall, compile_s, fitted = first_call(lambda lib=lib: lib.fit(max_iterations))
        except Exception as err:  # a peer's failure is a result, not a crash of the benchmark
            out[name] = {"error": f"{type(err).__name__}: {err}"}
            print(f"   fit {name}: failed: {out[name]['error']}", flush=True)
            continue
        predict = lib.predict_fn(fitted, X_test)
        p_first, p_compile, _ = first_call(predict)
        p_times = [timed(predict)[0] for _ in range(repeats)]
        is_jax = name in JAX_LIBRARIES
        r = {k: v for k, v in fitted.items() if k != "model"}
        r.update(
            wall_s=wall,
            compile_s=compile_s if is_jax else None,
            wall_excl_compile_s=wall - compile_s if is_jax else wall,
            log_ml=common_log_ml(X, y, fitted["hyper"]),
            predict_first_s=p_first,
            predict_compile_s=p_compile if is_jax else None,
            predict_s=float(np.median(p_times)),
        )
        out[name] = r
        print(
            f"   fit {name}: {wall:.2f} s"
            + (f" (compile {compile_s:.2f} s)" if is_jax else "")
            + f", {r['iterations']} iterations, log ML {r['log_ml']:.4f}; predict {r['predict_s']:.4f} s"
            + f" (first {p_first:.3f} s)",
            flush=True,
        )
    ok = {k: v for k, v in out.items() if "log_ml" in v}
    if ok:
        best = max(v["log_ml"] for v in ok.values())
        for v in ok.values():
            v["log_ml_below_best"] = best - v["log_ml"]
    return out


# ---------------------------------------------------------------------------------------- report
def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "equinox", "optax", "numpy", "scipy", "scikit-learn", "torch", "gpytorch"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    out["linear_operator"] = importlib.metadata.version("linear_operator")
    out["tinygp"] = importlib.metadata.version("tinygp")
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


def blas_threads() -> list[str]:
    try:
        from threadpoolctl import threadpool_info

        return [
            f"{i['internal_api']} {i.get('version') or ''} x{i['num_threads']}" for i in threadpool_info()
        ]
    except Exception:  # threadpoolctl is optional
        return []


def _s(x, digits=3) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def _ratio(peer, ours) -> str:
    if peer is None or ours is None or ours <= 0:
        return "-"
    return f"{peer / ours:.2f}"


def render(meta: dict, sizes: list[dict]) -> str:
    libs = meta["libraries"]
    peers = [p for p in libs if p != "bayeskit"]
    v = meta["versions"]
    lines = [
        "# GP peers: bayeskit exact GPR vs scikit-learn, GPyTorch and tinygp",
        "",
        f"{meta['date']} on {meta['cpu']} ({meta['cpu_count']} cores), {meta['platform']}. float64 on "
        f"{'the GPU, ' + meta['accelerator'] if meta.get('device') == 'gpu' else 'the CPU'}, "
        f"ARD RBF, d = {D}, zero mean, synthetic data (seed {meta['seed']}); torch threads "
        f"{meta['torch_threads']}; BLAS/OpenMP pools: {', '.join(meta['blas_threads']) or 'unknown'}. "
        f"Load average (1 min) at start {meta['load_start']:.2f}, at end {meta['load_end']:.2f}; "
        f"total run {meta['total_s'] / 60:.1f} min.",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".",
        "",
        "**Goals (issue 5)**: fit time at most 0.2x scikit-learn's (a peer / bayeskit ratio of at least 5) "
        "and at most 1x GPyTorch's (ratio at least 1), with an equal or better optimum; one log marginal "
        "likelihood + gradient evaluation about 3x the bare Cholesky floor.",
        "",
        "How: `benchmarks/gp_peers.py` docstring. GPyTorch runs with "
        "`fast_computations(covar_root_decomposition=False, log_prob=False, solves=False)` and "
        "`max_cholesky_size(10**9)`, so it uses Cholesky at every n. Ratios are peer time / bayeskit time: "
        "above 1 means bayeskit is faster.",
        "",
        f"## One log marginal likelihood + gradient (warm, median of {meta['repeats']})",
        "",
        "Seconds, and in brackets the multiple of the Cholesky floor (the faster of jitted "
        "`jnp.linalg.cholesky` and `scipy.linalg.cholesky` of the same matrix).",
        "",
        "| n | Cholesky jnp (s) | Cholesky scipy (s) | "
        + " | ".join(libs)
        + " | "
        + " | ".join(f"{p} / bayeskit" for p in peers)
        + " | compile (s): "
        + ", ".join(j for j in JAX_LIBRARIES if j in libs)
        + " |",
        "|" + "---|" * (3 + len(libs) + len(peers) + 1),
    ]
    for row in sizes:
        vg = row.get("value_and_grad")
        if vg is None:
            continue
        cells = [f"{row['n']:,}", _s(vg["cholesky"]["jnp_s"], 4), _s(vg["cholesky"]["scipy_s"], 4)]
        by = vg["libraries"]
        for lib in libs:
            r = by.get(lib, {})
            cells.append(f"{r['median_s']:.4f} ({r['over_floor']:.1f}x)" if "median_s" in r else "skipped")
        ours = by.get("bayeskit", {}).get("median_s")
        cells += [_ratio(by.get(p, {}).get("median_s"), ours) for p in peers]
        cells.append(", ".join(_s(by.get(j, {}).get("compile_s"), 2) for j in JAX_LIBRARIES if j in libs))
        lines.append("| " + " | ".join(cells) + " |")
    checks = []
    for row in sizes:
        by = row.get("value_and_grad", {}).get("libraries", {})
        diffs = [(p, by[p]) for p in peers if "value_diff" in by.get(p, {})]
        if diffs:
            worst_v = max(abs(r["value_diff"]) for _, r in diffs)
            worst_g = max(r["grad_rel_diff"] for _, r in diffs)
            checks.append(f"n = {row['n']:,}: {worst_v:.1e} nats, gradient {worst_g:.1e}")
    if checks:
        lines += [
            "",
            "Same objective: largest |peer log ML - bayeskit's| and largest relative gradient difference "
            "(log hyperparameters) at the common start: " + "; ".join(checks) + ".",
        ]
    skipped = sorted(
        {
            f"{p} at n = {row['n']:,}: {r['skipped']}"
            for row in sizes
            for part in (row.get("value_and_grad", {}).get("libraries", {}), row.get("fit", {}))
            for p, r in part.items()
            if "skipped" in r
        }
    )
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]

    fits = [row for row in sizes if row.get("fit")]
    if fits:
        lines += [
            "",
            f"## Fit: same start, L-BFGS, at most {meta['max_iterations']} iterations "
            f"(GPyTorch: {meta['gpytorch_optimizer']})",
            "",
            "Wall time of the fit (JAX libraries: compile included; compile excluded after the slash), "
            "iterations / objective evaluations as each library reports them, the log marginal likelihood "
            "at the final hyperparameters from one common evaluator (and how far below the best of the "
            "libraries it is), and predict time for mean + variance at 1,000 points (warm; the first call, "
            "with compilation or GPyTorch's cache, in brackets).",
            "",
            "| n | library | fit (s) | compile (s) | iterations / evals | log ML | below best | "
            "predict (s) | fit: peer / bayeskit | predict: peer / bayeskit |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in fits:
            by = row["fit"]
            ours = by.get("bayeskit", {})
            for lib in libs:
                r = by.get(lib)
                if r is None:
                    continue
                if "skipped" in r or "error" in r:
                    lines.append(
                        f"| {row['n']:,} | {lib} | {r.get('skipped') or r.get('error')} |" + " |" * 7
                    )
                    continue
                fit_cell = _s(r["wall_s"], 2)
                if r["compile_s"] is not None:
                    fit_cell += f" / {_s(r['wall_excl_compile_s'], 2)}"
                evals = r["evaluations"] if r["evaluations"] is not None else "-"
                if lib == "bayeskit":
                    ratio_fit = ratio_pred = "1"
                else:
                    ratio_fit = _ratio(r["wall_s"], ours.get("wall_s"))
                    if r["compile_s"] is not None and ours.get("wall_excl_compile_s"):
                        ratio_fit += f" / {_ratio(r['wall_excl_compile_s'], ours['wall_excl_compile_s'])}"
                    ratio_pred = _ratio(r["predict_s"], ours.get("predict_s"))
                lines.append(
                    f"| {row['n']:,} | {lib} | {fit_cell} | {_s(r['compile_s'], 2)} | {r['iterations']} / {evals} | "
                    f"{r['log_ml']:,.3f} | {r['log_ml_below_best']:.3g} | {r['predict_s']:.4f} "
                    f"({r['predict_first_s']:.3f}) | {ratio_fit} | {ratio_pred} |"
                )
        lines += [
            "",
            "## Against the goals",
            "",
            "| n | sklearn / bayeskit fit (goal >= 5) | gpytorch / bayeskit fit (goal >= 1) | "
            f"bayeskit optimum equal or better (within {SAME_OPTIMUM_NATS} nats) | "
            "bayeskit value+grad / floor (goal ~3) |",
            "|---|---|---|---|---|",
        ]
        for row in sizes:
            by = row.get("fit", {})
            ours = by.get("bayeskit", {})
            ok = [p for p in peers if "log_ml" in by.get(p, {})]
            if "log_ml" in ours and ok:
                worse = [p for p in ok if by[p]["log_ml"] > ours["log_ml"] + SAME_OPTIMUM_NATS]
                optimum = (
                    "yes"
                    if not worse
                    else "no: " + ", ".join(f"{p} +{by[p]['log_ml'] - ours['log_ml']:.3g}" for p in worse)
                )
            else:
                optimum = "-"
            vg = row.get("value_and_grad", {}).get("libraries", {}).get("bayeskit", {})
            lines.append(
                f"| {row['n']:,} | {_ratio(by.get('sklearn', {}).get('wall_s'), ours.get('wall_s'))} | "
                f"{_ratio(by.get('gpytorch', {}).get('wall_s'), ours.get('wall_s'))} | {optimum} | "
                f"{_s(vg.get('over_floor'), 1)} |"
            )
    return "\n".join(lines) + "\n"


def write(meta: dict, sizes: list[dict]) -> str:
    RESULTS.mkdir(exist_ok=True)
    text = render(meta, sizes)
    payload = {"meta": meta, "sizes": sizes}
    stem = "gp_peers" + (f"_{meta['tag']}" if meta.get("tag") else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=_json_default))
    (RESULTS / f"{stem}.md").write_text(text)
    return text


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 2000, 5000, 10000])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    parser.add_argument("--max-iterations", type=int, default=100, help="L-BFGS iterations, every library")
    parser.add_argument("--skip-fit", action="store_true", help="only the value-and-gradient timings")
    parser.add_argument(
        "--fit-sizes", nargs="*", type=int, default=None, help="fit only at these sizes (default: every size)"
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=PEERS,
        default=None,
        help="default: all on a CPU; GPyTorch and tinygp with --device gpu (scikit-learn has no GPU)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: JAX's default GPU and GPyTorch on CUDA (the floor is then the GPU's Cholesky)",
    )
    parser.add_argument("--gpytorch-optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    parser.add_argument(
        "--tag", default="", help="write results/gp_peers_<tag>.{json,md} (a run with other settings)"
    )
    args = parser.parse_args()
    GPyTorch.optimizer = args.gpytorch_optimizer
    if args.peers is None:
        args.peers = list(PEERS) if args.device == "cpu" else ["gpytorch", "tinygp"]
    if args.device == "gpu":
        if jax.default_backend() != "gpu" or not torch.cuda.is_available():
            parser.error(
                f"--device gpu: JAX's backend is {jax.default_backend()!r}, torch CUDA {torch.cuda.is_available()}"
            )
        GPyTorch.device = torch.device("cuda")
    libraries = ["bayeskit", *[p for p in PEERS if p in args.peers]]

    started = time.perf_counter()
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "device": args.device,
        "accelerator": str(jax.devices()[0].device_kind) if args.device == "gpu" else None,
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        "versions": versions(),
        "libraries": libraries,
        "d": D,
        "seed": SEED,
        "start": START,
        "tol": TOL,
        "repeats": args.repeats,
        "max_iterations": args.max_iterations,
        "tag": args.tag,
        "gpytorch_optimizer": args.gpytorch_optimizer,
        "gpytorch_settings": "fast_computations(covar_root_decomposition=False, log_prob=False, "
        "solves=False), max_cholesky_size(10**9)",
        "load_start": os.getloadavg()[0],
    }
    sizes = []
    for n in args.sizes:
        print(f"n = {n:,} (elapsed {time.perf_counter() - started:.0f} s)", flush=True)
        X, y, X_test, _ = make_data(n)
        libs = {name: LIBRARY_CLASSES[name](X, y) for name in libraries}
        row = {"n": n, "value_and_grad": measure_value_and_grad(libs, X, args.repeats)}
        if not args.skip_fit and (args.fit_sizes is None or n in args.fit_sizes):
            row["fit"] = measure_fit(libs, X, y, X_test, args.max_iterations, args.repeats)
        row["load"] = os.getloadavg()[0]
        sizes.append(row)
        meta.update(load_end=os.getloadavg()[0], total_s=time.perf_counter() - started)
        write(meta, sizes)  # after every size, so that a long run keeps what it finished
    print("\n" + write(meta, sizes))
    print(f"Total: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
