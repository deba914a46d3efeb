"""The command line: --help, --version, tour --list, bad chapter names, exit codes."""

import subprocess
import sys
from pathlib import Path

import pytest

import bayeskit
from bayeskit.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert bayeskit.__version__ in capsys.readouterr().out


def test_help_lists_tour(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "tour" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage" in capsys.readouterr().out


def test_tour_list(capsys):
    assert main(["tour", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("distributions", "bayes-rule", "mle-map", "linear-regression"):
        assert name in out
    # Every title starts in one column, whatever the length of its chapter's name.
    from bayeskit.tour import CHAPTERS, _chapter

    starts = set()
    for name in CHAPTERS:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        starts.add(line.index(_chapter(name).TITLE.split()[0], len(name)))
    assert len(starts) == 1


def test_unknown_chapter_exit_code(capsys):
    assert main(["tour", "--chapter", "nope"]) == 2
    assert "unknown chapter" in capsys.readouterr().out


def test_an_unwritable_figure_folder_is_a_one_line_error(tmp_path, capsys):
    a_file = tmp_path / "figures"
    a_file.write_text("not a folder")
    assert main(["tour", "--chapter", "distributions", "--out", str(a_file)]) == 2
    assert "cannot write figures to --out" in capsys.readouterr().err


def test_unknown_command_exit_code():
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "bayeskit", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "bayeskit" in out.stdout


def test_tour_list_reads_titles_without_importing_chapters():
    from bayeskit.tour import CHAPTERS, _chapter, _title

    for name in CHAPTERS:
        assert _title(name) == _chapter(name).TITLE
    code = (
        "import sys\nfrom bayeskit.cli import main\nassert main(['tour', '--list']) == 0\n"
        "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('bayeskit.tour.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "value, expected",
    [("off", None), ("0", None), ("No", None), ("on", "default"), ("1", "default"), ("TRUE", "default"),
     ("~/jaxcache", "home")],
)  # fmt: skip
def test_compilation_cache_setting(monkeypatch, tmp_path, value, expected):
    from bayeskit._compilation_cache import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("BAYESKIT_COMPILATION_CACHE", value)
    want = {"default": tmp_path / "bayeskit" / "jax", "home": Path.home() / "jaxcache", None: None}[expected]
    assert default_cache_dir() == want
