"""The examples: each script runs to the end and prints what it promises."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Script -> phrases its output must contain.
EXPECTED = {
    "distributions.py": ("Normal(1, 2)", "batch_shape", "KL(N(0, 1) || N(1, 2))"),
    "model_language.py": ("prior predictive", "logdensity_fn(z)", "constrain(z)"),
    "conjugate.py": ("posterior mean", "log Bayes factor", "log evidence: line"),
    "optimize.py": ("MLE", "MAP", "Laplace", "log evidence"),
    "vi.py": ("mean-field", "full-rank", "KL(q || posterior)", "posterior summary"),
    "gaussian_processes.py": (
        "learned ARD lengthscales",
        "predictive sd",
        "log marginal likelihood, Matern52",
        "SGPR",
    ),
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, capsys):
    # In-process, as `python examples/<script>` would run it: one JAX start-up for all of them.
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    missing = [phrase for phrase in EXPECTED[script] if phrase not in out]
    assert not missing, f"{script} did not print {missing}:\n{out}"
    assert "nan" not in out.lower().split(), f"{script} printed nan:\n{out}"
