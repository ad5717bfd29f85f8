"""The user-facing docs say what the code does: README.md's NumPy session runs as a
doctest, the FAQ's example runs, and the layers' signatures written in docs/api.rst and
the backends' pages (the frameworks are mocked when the docs are built) are the layers'
own."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.framework_free
def test_the_readme_numpy_session_prints_what_it_shows():
    blocks = re.findall(r"```pycon\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert blocks, "README.md has no pycon block"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner()
    for number, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"README.md, block {number}", "README.md", 0)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 4 and result.failed == 0, result


@pytest.mark.framework_free
def test_the_faq_numpy_example_runs():
    """docs/faq.rst's per-channel example: alpha of shape (C, 1, 1) against (N, C, H, W)."""
    import numpy as np

    page = (ROOT / "docs" / "faq.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", page)
    assert len(blocks) == 1, "docs/faq.rst: one NumPy example expected"
    scope: dict[str, object] = {}
    exec(textwrap.dedent(blocks[0]), scope)
    y, alpha = scope["y"], scope["alpha"]
    np.testing.assert_allclose(y[0, :, 0, 0], alpha * np.expm1(np.float32(-1)), rtol=1e-6)


def _documented_signature(qualname: str) -> str:
    # docs/api.rst, or the layer's backend page (its section "Layer").
    pattern = re.compile(rf"^\.\. autoclass:: {re.escape(qualname)}\((.*)\)$", re.MULTILINE)
    for page in [ROOT / "docs" / "api.rst", *sorted((ROOT / "docs" / "backends").glob("*.rst"))]:
        match = pattern.search(page.read_text())
        if match:
            return match.group(1)
    raise AssertionError(f"no page of the docs gives a signature for {qualname}")


def _actual_signature(cls: type) -> str:
    # __init__'s own: Flax NNX's metaclass hides it from inspect.signature(cls).
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    text: list[str] = []
    for parameter in parameters:
        if parameter.kind is parameter.VAR_KEYWORD:
            text.append(f"**{parameter.name}")
        elif parameter.default is parameter.empty:
            text.append(parameter.name)
        else:
            text.append(f"{parameter.name}={parameter.default!r}")
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in text[:-1]:
            text.insert(-1, "*")
    return ", ".join(text)


def _names(signature: str) -> list[str]:
    # The parameters' names and order (defaults of framework dtypes are written
    # as the docs reader knows them, e.g. mlx.core.float32).
    return [part.split("=")[0].strip() for part in signature.split(",")]


def _layer_backend(layer: str) -> str:
    """The backend whose session has the framework of ``unielu/layers/<layer>.py``:
    the backend of that name, or the one whose layer needs that package (Flax: JAX)."""
    from unielu._registry import registry, requirement_name

    for spec in registry():
        if spec.name == layer or layer in map(requirement_name, spec.layer_requirements):
            return spec.name
    raise AssertionError(f"unielu/layers/{layer}.py: no backend in the registry runs it")


def _layer_params() -> list[object]:
    from unielu.layers import _SUBMODULES

    return [
        pytest.param(
            layer,
            marks=pytest.mark.only(_layer_backend(layer), reason=f"the {layer} layers' signatures"),
            id=layer,
        )
        for layer in sorted(_SUBMODULES)
    ]


@pytest.mark.parametrize("layer", _layer_params())
def test_api_page_gives_the_layer_signatures(layer, backend):
    # Every public class of each layer module (its __all__), found by file name.
    module = importlib.import_module(f"unielu.layers.{layer}")
    classes = [name for name in module.__all__ if inspect.isclass(getattr(module, name))]
    assert classes, f"unielu.layers.{layer} has no public class"
    for name in classes:
        documented = _documented_signature(f"unielu.layers.{layer}.{name}")
        assert _names(documented) == _names(_actual_signature(getattr(module, name))), name
