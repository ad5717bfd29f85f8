"""The model benchmark (benchmarks/models.py) runs: each case once at a tiny size
(``SMOKE``), on the backend under test, and its results render. No timing is
checked: speed is what the benchmark itself measures."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    # By path, under a name of its own: tests/models.py is already the module "models".
    spec = importlib.util.spec_from_file_location(f"_unielu_benchmarks_{name}", BENCHMARKS / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


models = _load("models.py")


def _check_rows(rows, ids):
    assert [r["id"] for r in rows] == ids
    for r in rows:
        assert "error" not in r, f"{r['id']}: {r['error']}"
        assert (r["pairs"], r["calls"]) == (1, 1), r
        for key in ("unielu_ms", "baseline_ms", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["id"], key, r[key])
        assert r["limit"] == models.TARGETS.get(r["id"])
        assert r["met"] == (None if r["limit"] is None else r["ratio"] <= r["limit"])


def _run(group, cases=None):
    cases = models.GROUPS[group][1]() if cases is None else cases
    rows = models.run_cases(group, cases, models.SMOKE)
    _check_rows(rows, [c.id for c in cases])
    return rows


@pytest.mark.bench
@pytest.mark.only("torch", reason="the PyTorch cases")
def test_torch_cases_run(backend):
    _run("torch")


@pytest.mark.bench
@pytest.mark.only("tensorflow", reason="the TensorFlow cases")
def test_tensorflow_cases_run(backend):
    _run("tensorflow")


@pytest.mark.bench
@pytest.mark.only("jax", reason="the JAX cases")
def test_jax_cases_run(backend):
    _run("jax", [c for c in models.jax_cases() if not c.id.startswith("jax.flax")])


@pytest.mark.bench
@pytest.mark.only("jax", reason="the Flax NNX case")
def test_flax_case_runs(backend):
    pytest.importorskip("flax", reason="needs flax (the JAX session has it)")
    pytest.importorskip("optax", reason="needs optax (the JAX session has it)")
    _run("jax", [c for c in models.jax_cases() if c.id.startswith("jax.flax")])


@pytest.mark.bench
@pytest.mark.only("keras", reason="the Keras cases, on the backend KERAS_BACKEND picks")
def test_keras_cases_run_in_a_child_process(backend, tmp_path, capsys):
    # The whole command, as `python benchmarks/models.py --only keras-jax` runs it.
    group = f"keras-{backend.keras.backend.backend()}"
    path = tmp_path / "models.json"
    assert models.main(["--only", group, "--smoke", "--json", str(path)]) == 0
    results = json.loads(path.read_text())
    _check_rows(results["rows"], [c.id for c in models.keras_cases(group.split("-", 1)[1])])
    assert results["scale"] == "smoke"
    assert {"keras", group.split("-", 1)[1]} <= set(results["versions"])
    printed = capsys.readouterr().out
    assert all(r["id"] in printed for r in results["rows"])


@pytest.mark.framework_free
def test_only_names_groups():
    assert models.parse_only(None) == list(models.GROUPS)
    assert models.parse_only("jax,keras") == ["keras-tensorflow", "keras-jax", "keras-torch", "jax"]
    with pytest.raises(ValueError, match=r"--only: unknown group 'pytorch' .*accepted: torch"):
        models.parse_only("jax,pytorch")


def _cells(rst):
    """The cells of an rst list-table, row by row."""
    table = []
    for line in rst.splitlines():
        if line.startswith("   * - "):
            table.append([line[7:]])
        elif line.startswith("     - "):
            table[-1].append(line[7:])
    return table


@pytest.mark.framework_free
def test_models_table_renders_each_row(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # render.py imports targets.py beside it
    render = _load("render.py")
    given = [("torch.cnn-train", 1.5), ("torch.cnn-inference", 0.5), ("torch.mlp-train", 1.25)]
    rows = [
        models._verdict({
            "id": case, "group": "torch", "text": case, "baseline": "nn.ELU",
            "unielu_ms": 2.0 * ratio, "baseline_ms": 2.0, "ratio": ratio, "pairs": 7, "calls": 1,
        })
        for case, ratio in given
    ]  # fmt: skip
    broken = {"id": "torch.cnn-compile", "group": "torch", "text": "torch.cnn-compile"}
    rows.append(models._verdict({**broken, "baseline": "nn.ELU", "error": "RuntimeError: no"}))
    results = {
        "machine": {**models.machine(), "load_after": 1.0},
        "versions": {"unielu": "0", "torch": "2"},
        "scale": "smoke",
        "seconds": 90.0,
        "rows": rows,
        "skipped": {"jax": "not installed: jax"},
    }
    table = _cells(render.models_rst(results))
    # The verdict first, in a narrow column: met or missed at a glance.
    assert table[0] == ["", "case", "unielu (ms)", "framework's own (ms)", "ratio", "target"]
    limit = {case: f"{models.TARGETS[case]:.2f}" for case, _ in given if case in models.TARGETS}
    assert table[1] == ["**missed**", "torch.cnn-train; against nn.ELU", "3", "2", "1.50",
                        limit["torch.cnn-train"]]  # fmt: skip
    assert table[2] == ["met", "torch.cnn-inference; against nn.ELU", "1", "2", "0.50",
                        limit["torch.cnn-inference"]]  # fmt: skip
    assert table[3] == ["—", "torch.mlp-train; against nn.ELU", "2.5", "2", "1.25", "—"]
    assert table[4][4] == "error: RuntimeError: no"
    assert "Not measured: jax (not installed: jax)" in render.models_rst(results)
    assert render.models_rst(None).startswith("Not measured yet")
    printed = models.format_results(results)
    assert all(r["id"] in printed for r in rows) and "skipped jax" in printed
