"""The unielu command: info, plot, bench, and its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from adapter import ADAPTERS

from unielu._registry import get_spec, registry
from unielu.cli import main

pytestmark = pytest.mark.framework_free
TESTS = Path(__file__).resolve().parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "unielu", *args], capture_output=True, text=True, env=env
    )


def test_info_json_reports_every_backend_and_agreement():
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    names = [b["backend"] for b in report["backends"]]
    assert names == [b.name for b in registry()]  # every backend, in dispatch order
    numpy_row = report["backends"][names.index("numpy")]
    assert numpy_row["usable"] and numpy_row["devices"] == ["cpu"]
    assert numpy_row["elu"][report["values"].index(-1.0)] == pytest.approx(-0.6321205588)
    for row in report["backends"]:
        assert row.get("usable") or row["why"], row
    assert report["max_ulp_disagreement"]["elu"] <= 5


def test_info_on_a_machine_without_array_api_strict_says_only_true_things(monkeypatch, capsys):
    """The generic Array API backend needs no framework of its own: without
    array-api-strict (the library the report makes its sample with) it is
    ready, not "installed, unusable"."""
    monkeypatch.setitem(sys.modules, "array_api_strict", None)  # import fails, as when absent
    assert main(["info"]) == 0
    line = next(li for li in capsys.readouterr().out.splitlines() if li.startswith("array_api "))
    assert "unusable" not in line and "No module named" not in line, line
    assert "ready (needs no framework of its own)" in line, line
    assert "array_api_strict is not installed" in line, line
    assert main(["plot", "--backend", "array_api"]) == 2
    assert "array_api_strict is not installed" in capsys.readouterr().err


def test_info_is_the_default_and_readable(capsys):
    assert main([]) == 0
    text = capsys.readouterr().out
    assert "numpy" in text and "largest disagreement" in text


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_plot_writes_the_figure(tmp_path, suffix, capsys):
    target = tmp_path / f"elu{suffix}"
    assert (
        main(["plot", "--alpha", "1", "--alpha", "1.7", "--range", "-4", "2", "-o", str(target)])
        == 0
    )
    assert target.stat().st_size > 1000
    assert str(target) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plot", "--alpha", "-1"], "'alpha' must be finite and >= 0"),
        (["plot", "--range", "3", "1"], "needs finite LOW < HIGH"),
        (["plot", "-o", "/nonexistent-folder/elu.png"], "does not exist"),
        (["plot", "-o", "elu.gif"], "must end in .png, .svg or .pdf"),
    ],
)
def test_plot_errors_exit_2_with_a_clear_message(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)  # restored after: later tests run `python -m unielu` here
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_unwritable_output(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "elu.png").mkdir()  # a folder where the file should go: cannot be written
    assert main(["plot", "-o", str(folder / "elu.png")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_unknown_backend_is_refused():
    out = run("plot", "--backend", "mxnet")
    assert out.returncode == 2 and "invalid choice: 'mxnet'" in out.stderr


def test_help_everywhere():
    for sub in ([], ["info"], ["plot"], ["bench"]):
        out = run(*sub, "--help")
        assert out.returncode == 0 and "usage: unielu" in out.stdout


def test_bench_loads_no_test_code_and_times_every_installed_backend():
    """``unielu bench`` runs from the installed package alone: no adapters, nothing on
    stderr, and a row for every installed backend (against its framework's own ELU
    where its SPEC names one)."""
    out = run("bench")
    assert out.returncode == 0, out.stderr
    # Only tqdm's progress bar, where tqdm is installed, may write there.
    other = [li for li in re.split(r"[\r\n]", out.stderr) if li and "benchmarking" not in li]
    assert other == [], out.stderr
    timed = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    for spec in registry():
        if spec.installed() and not spec.needs_gpu:
            assert spec.name in timed, out.stdout


def test_bench_quick_on_numpy(tmp_path):
    target = tmp_path / "bench.json"
    out = run("bench", "--backend", "numpy", "--json", str(target))
    assert out.returncode == 0, out.stderr
    assert "plain formula" in out.stdout and "import unielu" in out.stdout
    data = json.loads(target.read_text())
    assert {r["size"] for r in data["rows"]} == {16, 10**5, 10**6}
    # The NumPy backend's own cases (the frameworks' ELUs come from the test
    # adapters, which nox -s bench hands in: tests/test_registry.py).
    expected = {
        "numpy.plain", "numpy.copy", "numpy.copyto", "numpy.alloc-floor-vs-copyto",
        "numpy.copyto-out", "numpy.derivative-copyto-out",
    }  # fmt: skip
    assert {r["case"] for r in data["rows"]} == expected
    assert all(r["unielu_ns"] > 0 and r["ratio"] > 0 for r in data["rows"])


def test_bench_with_the_adapters_compares_numpy_with_the_frameworks(tmp_path):
    """As ``nox -s bench`` runs it: the NumPy backend's yardsticks from the installed
    frameworks' adapters, the fastest framework ELU, and those it is compared with alone."""
    from unielu import bench

    target = tmp_path / "bench.json"
    assert bench.main(backends=["numpy"], json_path=str(target), plan=bench.Plan(ADAPTERS)) == 0
    natives = [n for n, cls in ADAPTERS.items() if cls.native and get_spec(n).installed()]
    expected = {
        "numpy.plain", "numpy.copy", "numpy.copyto", "numpy.alloc-floor-vs-copyto",
        "numpy.copyto-out", "numpy.derivative-copyto-out",
        *(["numpy.fastest-framework", "numpy.copy-floor-vs-fastest-framework"] if natives else []),
        *(f"numpy.{n}" for n in natives if ADAPTERS[n].bench_against_numpy),
    }  # fmt: skip
    assert {r["case"] for r in json.loads(target.read_text())["rows"]} == expected
