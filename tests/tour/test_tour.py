"""The tour: every chapter runs, prints its tables and writes its figures; the CLI runs one chapter."""

import importlib
import io
import re

import jax
import pytest
from rich.console import Console

from bayeskit.cli import main
from bayeskit.tour import CHAPTERS

# Per chapter: table headings it must print and the figures it must write with `out`. A chapter
# missing here is still run, and must print some table and write some figure.
EXPECTED = {
    "variational-inference": (
        ("method", "sd / exact sd", "ELBO", "KL(q || posterior)", "mean-field", "full-rank", "NUTS"),
        ("variational_inference",),
    ),
    "bayesian-deep-learning": (
        ("test NLL", "95% coverage", "miscalibration area", "epistemic sd: gap / data", "aleatoric sd"),
        ("bdl_uncertainty", "bdl_calibration"),
    ),
    "gaussian-processes": (
        (
            "zero crossings",
            "log marginal likelihood",
            "test NLL",
            "95% coverage",
            "extrapolation RMSE (t > 8)",
            "learned period",
        ),
        ("gp_prior_samples", "gp_regression", "gp_trend_season"),
    ),
    "distributions": (("distribution", "exact mean", "sample mean", "exact var"), ("distributions",)),
    "bayes-rule": (
        ("posterior", "95% interval", "log p(D)", "log Bayes factor", "max |grid - exact|", "log Z on grid"),
        ("bayes_rule",),
    ),
    "mle-map": (("estimator", "|w - w_true|", "scikit-learn twin"), ("mle_map",)),
    "linear-regression": (
        ("degree", "log evidence", "test RMSE", "95% coverage", "posterior mean", "prior precision"),
        ("linear_regression",),
    ),
    "nuts-regression": (
        ("parameter", "truth", "94% HDI", "R-hat", "exact mean", "NUTS sd", "|mean gap| / sd", "MCSE / sd"),
        ("nuts_regression",),
    ),
    "metropolis": (
        (
            "scale",
            "accept",
            "switches",
            "mode B",
            "estimate of E[x]",
            "R-hat",
            "discarded",
            "MCSE",
        ),
        ("metropolis",),
    ),
    "gibbs-mixture": (
        ("parameter", "truth", "94% HDI", "ESS bulk", "R-hat", "true component", "assigned 2"),
        ("gibbs_mixture",),
    ),
    "logistic-regression": (
        ("parameter", "truth", "94% HDI", "R-hat", "point", "share of"),
        ("logistic_regression",),
    ),
    "hierarchical": (
        (
            "no pooling",
            "partial pooling",
            "complete pooling",
            "parameterisation",
            "divergent draws",
            "tau R-hat",
        ),
        ("hierarchical",),
    ),
    "vae": (
        ("model / split", "ELBO", "reconstruction E[log p(x|z)]", "KL(q || prior)", "IWAE log p(x), k=100"),
        ("vae_reconstructions", "vae_samples", "vae_latent_space"),
    ),
}


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_chapter_runs(name, tmp_path):
    module = importlib.import_module(CHAPTERS[name])
    assert isinstance(module.TITLE, str) and module.TITLE and "\n" not in module.TITLE
    buffer = io.StringIO()
    # Wide enough that no heading wraps; the key is the one `bayeskit tour` would pass.
    console = Console(file=buffer, width=250, color_system=None)
    key = jax.random.fold_in(jax.random.key(0), list(CHAPTERS).index(name))
    module.run(key, console, tmp_path)
    text = buffer.getvalue()
    headings, figures = EXPECTED.get(name, (("┃",), ()))
    missing = [h for h in headings if h not in text]
    assert not missing, f"chapter {name} did not print {missing}:\n{text}"
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE), f"chapter {name} printed nan or inf:\n{text}"
    written = sorted(p.stem for p in tmp_path.glob("*.png"))
    assert written, f"chapter {name} wrote no figure to {tmp_path}"
    for figure in figures:
        path = tmp_path / f"{figure}.png"
        assert path.exists() and path.stat().st_size > 1000, f"chapter {name} did not write {path.name}"
    if name == "gaussian-processes":
        # The sum kernel's fit must find the season, not one of the period's local optima.
        period = float(re.search(r"([0-9.]+) \(truth 1\)", text).group(1))
        assert abs(period - 1.0) < 0.05, f"learned period {period}, truth 1:\n{text}"


def test_cli_runs_one_chapter(tmp_path, capsys):
    assert main(["tour", "--chapter", "bayes-rule", "--out", str(tmp_path), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "(bayes-rule:" in out and "Figures written to" in out
    assert (tmp_path / "bayes_rule.png").exists()
