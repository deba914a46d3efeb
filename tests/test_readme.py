"""README's quick start runs as written, and its commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def test_quick_start_runs(capsys):
    block = re.search(r"## Quick start\s+```python\n(.*?)```", README, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out  # it printed the target's dim and log density


def test_ci_runs_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]"' in README and 'pip install -e ".[test]"' in ci
    assert "pytest -q" in README and "pytest -q" in ci
    assert "bayeskit tour" in README
