"""The registry of backends is the one list: dispatch, installed_backends(), the
report, the test adapters, the nox sessions and the docs pages all agree with it,
and a backend registered at run time reaches every one of them.

A test marked ``once`` checks the repository's files or its tools (tests, docs,
tables, benchmarks), the same on every Python: the NumPy session of the main
Python runs it; the others test the package's own code on theirs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from adapter import ADAPTERS
from docs_pages import backend_sections

import unielu
from unielu import cli
from unielu._registry import BackendSpec, get_spec, register, registry, spec_from_dict, unregister

pytestmark = pytest.mark.framework_free
ROOT = Path(__file__).resolve().parent.parent
NAMES = [b.name for b in registry()]


@pytest.fixture
def box():
    """The throwaway backend of tests/throwaway_backend.py, registered for one test
    (its spec in the registry, its adapter in ADAPTERS)."""
    import throwaway_backend

    register(spec_from_dict(throwaway_backend.SPEC, module="throwaway_backend"))
    ADAPTERS["box"] = throwaway_backend.BoxAdapter
    yield throwaway_backend
    unregister("box")
    ADAPTERS.pop("box", None)


@pytest.mark.once
def test_every_backend_has_an_adapter():
    assert set(NAMES) <= set(ADAPTERS)


@pytest.mark.once
def test_every_backend_has_a_docs_page():
    pages = {p.stem for p in (ROOT / "docs" / "backends").glob("*.rst")} - {"index"}
    assert pages == set(NAMES)


@pytest.mark.once
def test_every_backend_has_a_nox_session():
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-f", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    sessions = {s["session"] for s in json.loads(out.stdout)}
    assert {f"tests({name})" for name in NAMES} <= sessions


@pytest.mark.parametrize("name", ["numpy", "array_api"])
def test_the_parsed_spec_is_the_modules_spec(name):
    """The registry parses SPEC from the source; what it read is what the module says."""
    spec = get_spec(name)
    assert spec_from_dict(spec.load().SPEC, module=spec.module) == spec


def test_out_and_get_backend_read_the_registry_not_the_module(box):
    """A registered spec is the one source: the module's own SPEC is not consulted."""
    import dataclasses

    x = box.Box(np.array([-1.0]))
    register(dataclasses.replace(get_spec("box"), name="renamed"))
    unregister("box")
    assert unielu.get_backend(x) == "renamed"
    with pytest.raises(TypeError, match="'out' must be None for renamed arrays"):
        unielu.elu(x, out=x)
    unregister("renamed")


def test_dispatch_order_is_the_registry_order():
    priorities = [b.priority for b in registry()]
    assert priorities == sorted(priorities)
    assert NAMES.index("numpy") < NAMES.index("array_api") == len(NAMES) - 1


def test_spec_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        spec_from_dict({**dict(get_spec("numpy").__dict__), "colour": "blue"})


def test_a_registered_backend_reaches_dispatch_and_installed_backends(box):
    x = box.Box(np.array([-1.0, 0.0, 2.0]))
    assert unielu.get_backend(x) == "box"
    y = unielu.elu(x, 0.5)
    assert isinstance(y, box.Box)
    np.testing.assert_array_equal(y.a, unielu.elu(x.a, 0.5))
    assert "box" in unielu.installed_backends()
    assert isinstance(get_spec("box"), BackendSpec)


def test_a_registered_backend_reaches_the_report(box, capsys):
    assert cli.info(as_json=True) == 0
    rows = {r["backend"]: r for r in json.loads(capsys.readouterr().out)["backends"]}
    assert rows["box"]["usable"], rows["box"]
    assert rows["box"]["elu"][1] == pytest.approx(np.expm1(-1.0))


def test_a_registered_backend_is_unregistered_cleanly(box):
    unregister("box")
    with pytest.raises(TypeError, match="argument 'x' must be an array"):
        unielu.elu(box.Box([1.0]))


@pytest.mark.once
def test_a_registered_backend_reaches_the_test_matrix():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))  # unielu as installed
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_conformance.py"),
        "-p", "throwaway_backend", "--backend=box", "-p", "no:cacheprovider", "-q", "-rA",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    # -rA: a summary line per test, with its id.
    assert (
        "PASSED tests/test_conformance.py::test_accuracy_over_the_whole_range[box-elu-1.0-float32]"
        in out.stdout
    )
    assert "passed" in out.stdout and "failed" not in out.stdout


@pytest.mark.once
def test_a_registered_backend_reaches_the_soak(box, capsys, monkeypatch):
    """benchmarks/soak.py takes its backends from the registry and their arrays from
    the adapters: a short soak of the throwaway backend alone runs, checked, error-free."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script
    path = ROOT / "benchmarks" / "soak.py"
    spec = importlib.util.spec_from_file_location("_unielu_soak", path)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = soak  # dataclasses looks its module up there
    try:
        spec.loader.exec_module(soak)
    finally:
        del sys.modules[spec.name]
    assert soak.main(["--seconds", "1", "--threads", "2", "--backends", "box"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backends: box;"), out
    calls = int(re.search(r"calls: (\d+)", out).group(1))
    assert calls > 20 and "errors: 0" in out, out


def test_a_registered_backend_reaches_bench(box, tmp_path, capsys):
    """The benchmarks take their backends from the registry and their cases from the
    adapters: a quick run of the throwaway backend alone times its adapter's case
    (as ``nox -s bench`` does); without the adapters (``unielu bench``), it is timed
    through the registry's from_numpy and to_numpy."""
    from unielu import bench

    rows = []
    for adapters in (ADAPTERS, None):
        target = tmp_path / "bench.json"
        plan = bench.Plan(adapters)
        assert bench.main(backends=["box"], json_path=str(target), plan=plan) == 0
        results = json.loads(target.read_text())
        assert {r["backend"] for r in results["rows"]} == {"box"}
        assert all(r["unielu_ns"] > 0 and r["baseline_ns"] > 0 for r in results["rows"])
        rows.append(results["rows"])
    by_adapter, by_registry = rows
    assert {(r["case"], r["size"]) for r in by_adapter} == {
        ("box.unielu-numpy", n) for n in bench.QUICK["sizes"]
    }
    assert {r["baseline"] for r in by_adapter} == {"unielu on the NumPy array inside the Box"}
    assert {r["case"] for r in by_registry} == {"box.unielu-numpy"}
    assert "+ to_numpy" in by_registry[0]["baseline"]


def test_bench_without_adapters_names_no_framework_case():
    """Without the adapters only the NumPy backend's own cases and the registry's
    generic one exist: every framework comparison comes from an adapter."""
    from unielu import bench

    plan = bench.Plan(None)
    x = bench.data(16, "float32")
    assert {c[0] for c in plan.cases("numpy", x, 1.0)} == {
        "numpy.plain", "numpy.copy", "numpy.copyto", "numpy.copyto-out",
        "numpy.derivative-copyto-out",
    }  # fmt: skip
    assert [c[0] for c in bench._registry_cases("numpy", x, 1.0)] == ["numpy.unielu-numpy"]


#: The registry's frameworks but unielu's own dependencies, and Flax (a layer's framework).
FRAMEWORKS = sorted({b.framework for b in registry()} - {"numpy", "array_api_compat"} | {"flax"})
FRAMEWORK_IMPORT = re.compile(rf"^\s*(import|from) ({'|'.join(FRAMEWORKS)})\b", re.MULTILINE)


def _framework_place(path: str) -> bool:
    """unielu/backends/, unielu/layers/, tests/adapters/, the model benchmark (which
    builds each framework's models), and tests or docs examples named after a
    framework (``tests/test_torch_out.py``, ``docs/at-scale/tf_mirrored.py``)."""
    if path.startswith(("unielu/backends/", "unielu/layers/", "tests/adapters/")):
        return True
    if path == "benchmarks/models.py":
        return True
    frameworks = {b.framework for b in registry()} | {"flax", "tf"}
    named = bool(frameworks & set(Path(path).stem.split("_")))
    return path.startswith(("tests/", "docs/")) and named


@pytest.mark.once
def test_only_the_framework_places_import_a_framework():
    """Issue 15's check: grep -lE "^\\s*(import|from) (torch|...)\\b" over the Python files."""
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.glob("*.py")] + [
        p.relative_to(ROOT).as_posix()
        for folder in ("unielu", "tests", "benchmarks", "docs")
        for p in (ROOT / folder).rglob("*.py")
        if "_build" not in p.parts
    ]  # the checkout's or the sdist's files alike (no git in the sdist)
    importing = {f for f in files if FRAMEWORK_IMPORT.search((ROOT / f).read_text())}
    outside = {f for f in importing if not _framework_place(f)}
    assert outside == set(), "a framework imported outside its places: move the code"


@pytest.mark.once
def test_the_generated_tables_are_up_to_date(tables):
    """README.md and the docs hold the registry's tables as it renders them now."""
    assert tables.stale(ROOT) == [], "stale: run python -m tools.tables"


@pytest.mark.once
def test_a_registered_backend_reaches_the_generated_tables(box, tables):
    table = tables.GENERATED["backends"].render("markdown")
    assert "| `box` | `throwaway_backend.Box` | no | no | 3 | kept | not checked |" in table
    readme = (ROOT / "README.md").read_text()
    assert tables.update(readme, "markdown") != readme  # the README would need a rewrite


@pytest.mark.once
def test_a_generated_block_is_rewritten_at_its_indentation(tables):
    text = "  .. begin generated: backends\n  stale\n  .. end generated: backends\n"
    new = tables.update(text, "rst")
    assert "stale" not in new and "  .. list-table::\n" in new and "     * - ``numpy``" in new
    assert tables.update(new, "rst") == new


# -- docs/implementations.rst, the map of the math ------------------------------------

IMPLEMENTATIONS = ROOT / "docs" / "implementations.rst"


def _implementations() -> str:
    """docs/implementations.rst and the backends' pages' "Implementations" sections,
    which it links."""
    return "\n".join([IMPLEMENTATIONS.read_text(), *backend_sections("Implementations").values()])


#: ``tests/<file>.py::<test>``, as the page names the test of each implementation
TEST_REFERENCE = re.compile(r"tests/(\w+)\.py::(\w+)")


def _list_table_rows(text: str) -> list[str]:
    """The body rows (header rows left out) of every ``list-table`` in ``text``."""
    rows: list[str] = []
    table: list[str] | None = None
    headers = 0
    for line in [*text.splitlines(), "end"]:
        if line.startswith(".. list-table::"):
            table, headers = [], 0
            continue
        if table is None:
            continue
        if line and not line[0].isspace():  # the table ends at the next unindented line
            rows += table[headers:]
            table = None
        elif match := re.match(r"\s+:header-rows:\s*(\d+)", line):
            headers = int(match.group(1))
        elif re.match(r"\s+\* - ", line):
            table.append(line)
        elif table:
            table[-1] += "\n" + line
    return rows


@pytest.mark.once
def test_every_row_of_the_implementations_page_names_its_test():
    rows = _list_table_rows(_implementations())
    assert len(rows) >= 20, "the page's tables were not found"
    unnamed = [row.split("\n")[0].strip() for row in rows if not TEST_REFERENCE.search(row)]
    assert unnamed == [], "rows of docs/implementations.rst that name no tests/<file>.py::<test>"


@pytest.mark.once
def test_the_tests_the_implementations_page_names_exist():
    references = set(TEST_REFERENCE.findall(_implementations()))
    missing = []
    for module, name in sorted(references):
        path = ROOT / "tests" / f"{module}.py"
        source = path.read_text() if path.exists() else ""
        if not re.search(rf"^\s*def {name}\(", source, re.MULTILINE):
            missing.append(f"tests/{module}.py::{name}")
    assert missing == [], "renamed or removed: update docs/implementations.rst"


@pytest.mark.once
def test_the_implementations_page_names_every_backend_module():
    text = _implementations()
    modules = {p.name for p in (ROOT / "unielu" / "backends").glob("*.py")} - {"__init__.py"}
    unnamed = sorted(m for m in modules if f"backends/{m}" not in text)
    assert unnamed == [], "add each module's implementations to docs/implementations.rst"


# -- The registry's other facts: floors of a layer, the framework's own ELU ------------


def test_the_functions_and_the_layer_have_their_own_floors():
    """JAX's functions run below the Flax layer's floors: the oldest sessions test
    each set apart, and the layer's set holds the layer's bounds."""
    spec = get_spec("jax")
    assert spec.layer_raises_floors()
    functions, layer = spec.oldest_requirements(), spec.oldest_requirements(layer=True)
    assert spec.requirement in functions and not any(r.startswith("flax") for r in functions)
    assert set(spec.layer_requirements) <= set(layer) and spec.requirement not in layer
    for name in NAMES:  # a backend without a layer of higher floors: one set
        other = get_spec(name)
        if not other.layer_raises_floors():
            assert set(other.oldest_requirements()) <= set(other.test_requirements)


def test_a_layer_below_its_floor_is_refused_by_name(monkeypatch):
    import importlib.metadata

    spec = get_spec("jax")
    dist, floor = spec.layer_requirements[0].split(">=")
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda d: "0.0.1" if d == dist else real(d))
    with pytest.raises(ImportError, match=rf"unielu.layers.flax needs {dist} >= {floor}; "):
        spec.check_layer_version("unielu.layers.flax")


def test_bench_without_adapters_times_the_framework_s_own_elu(box, tmp_path):
    """``unielu bench`` compares each installed backend with the ELU its SPEC names."""
    import dataclasses

    from unielu import bench

    register(dataclasses.replace(get_spec("box"), native_elu="throwaway_backend:elu"))
    target = tmp_path / "bench.json"
    assert bench.main(backends=["box"], json_path=str(target), plan=bench.Plan(None)) == 0
    rows = json.loads(target.read_text())["rows"]
    assert {(r["case"], r["baseline"]) for r in rows} == {
        ("box.native", "throwaway_backend.elu (both + to_numpy)")
    }


@pytest.mark.parametrize("name", [b.name for b in registry() if b.native_elu])
def test_native_elu_names_a_function(name):
    module, _, qualname = get_spec(name).native_elu.partition(":")
    assert re.fullmatch(r"[\w.]+", module) and re.fullmatch(r"[\w.]+(\(x\))?", qualname)


# -- Measured tables: stamped, and stale once their sources change -----------------------


@pytest.fixture
def stamp():
    path = ROOT / "benchmarks" / "stamp.py"
    spec = importlib.util.spec_from_file_location("_unielu_stamp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


CODE = '''"""A module."""

SPEC = {
    "name": "x",
}


def f(x):
    """Its docstring."""
    return x + 1  # a comment
'''


@pytest.mark.once
def test_a_stamp_goes_stale_when_a_measured_source_changes(stamp, tmp_path):
    _tree(tmp_path, {"unielu/backends/x.py": CODE, "unielu/cli.py": "A = 1\n"})
    data = {"stamp": {"commit": "abc", "sources": stamp.sources("differences", tmp_path)}}
    assert stamp.problems("differences", data, tmp_path) == []
    # Not a number's source: comments, docstrings, formatting, the SPEC, the CLI.
    edited = (
        CODE.replace("a comment", "another")
        .replace("Its docstring.", "Says more.")
        .replace('"x",', '"y",')
        .replace("def f(x):", "def f(\n    x,\n):")
    )
    _tree(tmp_path, {"unielu/backends/x.py": edited, "unielu/cli.py": "A = 2\n"})
    assert stamp.problems("differences", data, tmp_path) == []
    _tree(tmp_path, {"unielu/backends/x.py": CODE.replace("x + 1", "x + 2")})
    (problem,) = stamp.problems("differences", data, tmp_path)
    assert "changed: unielu/backends/x.py" in problem
    assert "python benchmarks/differences.py" in problem
    _tree(tmp_path, {"unielu/backends/y.c": "int y; /* a comment */\n"})
    (problem,) = stamp.problems("results", data, tmp_path)
    assert "no stamp" not in problem and "nox -s bench" in problem


@pytest.mark.once
def test_an_unstamped_table_is_stale(stamp):
    (problem,) = stamp.problems("results", {"rows": []})
    assert "has no stamp" in problem and "nox -s bench" in problem


@pytest.mark.once
def test_the_stamps_cover_the_code_and_not_the_docs(stamp):
    for table in stamp.SOURCES:
        files = stamp.files(table)
        assert "unielu/backends/numpy.py" in files and "unielu/_ufuncs.c" in files
        assert not [f for f in files if f.startswith("docs/") or f.endswith(".json")]
    assert "benchmarks/models.py" in stamp.files("results")
    assert "unielu/bench.py" not in stamp.files("differences")


@pytest.mark.once
def test_prose_values_come_from_the_measured_tables(tables):
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    row = next(r for r in results["rows"] if r["case"] == "numpy.plain" and r["size"] == 10**7)
    assert tables.value("ratio:numpy.plain:1e7") == f"{row['ratio']:.2f}"
    text = "about <!-- value: ratio:numpy.plain:1e7 -->7<!-- end value -->x"
    assert tables.update(text, "markdown") == text.replace(">7<", f">{row['ratio']:.2f}<")
    page = "x |ratio:numpy.plain:1e7| y\n\n.. begin generated: values\n.. end generated: values\n"
    assert f".. |ratio:numpy.plain:1e7| replace:: {row['ratio']:.2f}" in tables.update(page, "rst")
    with pytest.raises(LookupError, match=re.escape("no row 'numpy.renamed'")):
        tables.value("ratio:numpy.renamed:1e7")
