"""The registry of backends: what the project knows about each one.

Each module in ``unielu/backends/`` is a backend. Near its top is ``SPEC``, a
dict of literals saying what the project knows about it (its framework, the
array types it takes, what to install, what it can do); this module reads
those dicts from the source without importing the modules, so that ``import
unielu`` and :func:`unielu.installed_backends` import no framework. The parsed
record, :class:`BackendSpec`, is the one copy the code reads at run time:
nothing reads a loaded module's ``SPEC`` attribute (docs/adding-a-backend.rst
says why).
Everything that depends on the set of backends (dispatch order, the
command-line report, the benchmarks, the nox sessions, the test
parametrization) is derived from :func:`registry`; :func:`register` adds a
backend at run time.

This module uses the standard library alone, so that the noxfile can read the
registry without NumPy.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """What the project knows about one backend: its module's ``SPEC``, parsed.

    The one copy of a backend's facts that the code reads at run time
    (dispatch, ``out=`` refusal, :func:`unielu.get_backend`, the report, the
    benchmarks, the nox sessions, the tests, the generated tables).

    Attributes
    ----------
    name : str
        The backend's name, also the name of its module in ``unielu.backends``.
    framework : str
        The module whose presence makes the backend installed.
    requirement : str
        What to ``pip install`` to use it, with its lower bound (the oldest
        supported release, ``"jax>=0.4.35"``): the one place the floor is said.
        Below it, loading the backend raises :class:`ImportError`.
    priority : int
        Backends are tried in increasing priority: specific frameworks before
        NumPy, NumPy before the generic Array API fallback.
    types : tuple of str
        The array types it takes, as ``"module:QualName"``; ``"*"`` means any
        object with ``__array_namespace__``.
    description : str
        One line for the docs and the report.
    mutable : bool
        Its arrays can be written: ``out=`` is accepted.
    autodiff : bool
        Its results are differentiable by the framework's own autodiff.
    ulp : int
        The contract's accuracy bound for it, in units in the last place.
    flush_subnormals : bool
        Its runtime may flush subnormal results to zero (allowed by the contract).
    gpu : bool
        It runs on CUDA devices where its framework does, which the GPU check
        (``nox -s gpu``) covers; implied by ``needs_gpu``.
    needs_gpu : bool
        It cannot run without a CUDA device.
    load_early : bool
        Load it at ``import unielu`` when its framework is already imported,
        so that a first call inside a tracer that cannot follow an import
        (Paddle's ``to_static`` AST mode) finds it ready.
    layer_requirements : tuple of str
        What its layer (``unielu.layers``) needs beyond ``requirement``, each
        with its floor; may raise ``requirement``'s own (``"jax>=0.6.0"``):
        the functions work below the layer's floors. Importing the layer
        below them raises :class:`ImportError` (``check_layer_version``).
    test_requirements : tuple of str
        What its nox session installs (default: ``requirement`` and
        ``layer_requirements``), each on its own so that a local CPU build of
        a framework is taken. Those that are not ``requirement`` nor
        ``layer_requirements`` are for the tests alone; users never need them.
    newest_tested : str
        The newest releases its default nox session installed (``"jax 0.10.2,
        flax 0.12.8"``), updated by hand when they change: the versions table
        says it.
    not_at_floor : str
        Why its floor is declared, not tested by an ``oldest`` session (empty
        where one tests it).
    native_elu : str
        The framework's own ELU as ``"module:qualname"``, called as
        ``f(x, alpha)`` (``"module:qualname(x)"`` where it takes no alpha):
        what ``unielu bench`` times unielu against; empty where there is none.
    test_env : tuple of dict
        Environments its test session runs the matrix under, one run each.
    module : str
        The implementation module.
    """

    name: str
    framework: str
    requirement: str
    priority: int
    types: tuple[str, ...]
    description: str = ""
    mutable: bool = False
    autodiff: bool = False
    ulp: int = 3
    flush_subnormals: bool = False
    gpu: bool = False
    needs_gpu: bool = False
    load_early: bool = False
    layer_requirements: tuple[str, ...] = ()
    test_requirements: tuple[str, ...] = ()
    newest_tested: str = ""
    not_at_floor: str = ""
    native_elu: str = ""
    test_env: tuple[dict[str, str], ...] = ({},)
    module: str = ""

    def __post_init__(self) -> None:
        if not self.test_requirements:
            requirements = (self.requirement, *self.layer_requirements)
            object.__setattr__(self, "test_requirements", requirements)
        if self.needs_gpu:
            object.__setattr__(self, "gpu", True)
        if not self.module:
            object.__setattr__(self, "module", f"unielu.backends.{self.name}")

    def array_types(self) -> tuple[type, ...]:
        """The array types of the ones named whose module is already imported."""
        found = []
        for path in self.types:
            module_name, _, qualname = path.partition(":")
            module = sys.modules.get(module_name)
            if module is None:
                continue
            obj: Any = module
            for part in qualname.split("."):
                obj = getattr(obj, part, None)
            if isinstance(obj, type):
                found.append(obj)
        return tuple(found)

    def accepts(self, x: object) -> bool:
        """Whether ``x`` is one of this backend's arrays (imports nothing)."""
        if "*" in self.types and hasattr(x, "__array_namespace__"):
            return True
        types = self.array_types()
        return bool(types) and isinstance(x, types)

    def accepts_type(self, array_type: type) -> bool:
        """Whether ``array_type`` is, or subclasses, one of the types named (imports nothing).

        A narrower test than :meth:`accepts`: an instance check may say more
        (JAX's tracers are ``jax.Array`` instances of no subclass of it).
        """
        types = self.array_types()
        return bool(types) and issubclass(array_type, types)

    def installed(self) -> bool:
        """Whether its framework can be imported (without importing it)."""
        from importlib.util import find_spec

        try:
            return find_spec(self.framework) is not None
        except (ImportError, ValueError):
            return False

    def floor(self) -> str | None:
        """The oldest supported release of the framework (``requirement``'s lower bound)."""
        found = requirement_floor(self.requirement)
        return found[1] if found else None

    def installed_version(self) -> str | None:
        """The framework's installed version, or None if it is not installed.

        Read from the distribution's metadata, which imports nothing; where the
        distribution has another name than the requirement's (``tensorflow-cpu``
        for ``tensorflow``), from the module's ``__version__`` if already imported,
        else from the metadata of the distribution that provides the module.
        """
        import importlib.metadata  # here, not at import: it costs a third of `import unielu`

        found = requirement_floor(self.requirement)
        name = found[0] if found else self.framework
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
        version = getattr(sys.modules.get(self.framework), "__version__", None)
        if isinstance(version, str):
            return version
        top = self.framework.split(".")[0]
        for dist in importlib.metadata.packages_distributions().get(top, []):
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    def check_version(self) -> None:
        """Raise :class:`ImportError` if the installed framework is older than the floor.

        Passes when there is no floor, or when no version can be read (a build
        from source without metadata): the floor is a promise of the project,
        not a gate on frameworks it cannot identify.
        """
        floor = self.floor()
        version = self.installed_version() if floor else None
        if floor and version and release(version) < release(floor):
            raise ImportError(
                f"unielu's {self.name} backend needs {self.framework} >= {floor}; "
                f"{self.framework} {version} is installed. Upgrade it: "
                f'pip install -U "{self.requirement}"'
            )

    def check_layer_version(self, layer: str) -> None:
        """Raise :class:`ImportError` if a distribution the layer ``layer`` (its
        module's name) needs is older than its floor in ``layer_requirements``."""
        import importlib.metadata

        for requirement in self.layer_requirements:
            found = requirement_floor(requirement)
            if found is None:
                continue
            name, floor = found
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                continue  # importing the layer names what is missing
            if release(version) < release(floor):
                needs = " ".join(f'"{r}"' for r in self.layer_requirements)
                raise ImportError(
                    f"{layer} needs {name} >= {floor}; {name} {version} is installed "
                    f"(unielu.elu works on {self.framework} >= {self.floor()}; the layer "
                    f"needs more). Upgrade it: pip install -U {needs}"
                )

    def oldest_requirements(self, layer: bool = False) -> tuple[str, ...]:
        """What its ``oldest`` nox session installs, each floor to be pinned.

        The functions' floors (``layer`` False): the test requirements without
        those the layer alone needs, whose floors may not go with the
        functions'. The layer's floors (``layer`` True, only where
        ``layer_requirements`` raises a floor): every test requirement, with
        the layer's bounds in place of the others' for the same distribution.
        """
        own = {requirement_name(r) for r in self.layer_requirements}
        if not layer:
            keep = {requirement_name(self.requirement)}
            return tuple(r for r in self.test_requirements if requirement_name(r) not in own - keep)
        by_name = {requirement_name(r): r for r in self.layer_requirements}
        found = [by_name.pop(requirement_name(r), r) for r in self.test_requirements]
        return (*found, *by_name.values())

    def layer_raises_floors(self) -> bool:
        """Whether the layer needs a newer release than the functions do (then
        the functions and the layer are tested at their floors apart)."""
        base = requirement_floor(self.requirement)
        name = requirement_name(self.requirement)
        for requirement in self.layer_requirements:
            found = requirement_floor(requirement)
            if found and base and requirement_name(requirement) == name:
                return release(found[1]) > release(base[1])
        return False

    def load(self) -> ModuleType:
        """The implementation module (this imports the framework).

        Raises :class:`ImportError` if the installed framework is older than
        the floor (see :meth:`check_version`).
        """
        self.check_version()
        return importlib.import_module(self.module)


_FLOOR = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def requirement_floor(requirement: str) -> tuple[str, str] | None:
    """The distribution and lower bound of a requirement: ``("jax", "0.4.35")``
    for ``"jax>=0.4.35"``, ``None`` for one with no ``>=`` bound."""
    match = _FLOOR.match(requirement)
    return (match.group(1), match.group(2)) if match else None


def requirement_name(requirement: str) -> str:
    """A requirement's distribution name, normalised (``-cpu`` builds as their framework)."""
    name = re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower().removesuffix("-cpu")


def release(version: str) -> tuple[int, ...]:
    """The release numbers of a version, for comparing with a floor.

    ``"2.13.0+cpu"`` gives ``(2, 13, 0)``; a pre-release counts as its release
    and trailing zeros are dropped, so that ``"1.24"`` equals ``"1.24.0"``.
    """
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    numbers = [int(part) for part in match.group(0).split(".")] if match else [0]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _read_spec(path: Path) -> dict[str, Any]:
    """The literal ``SPEC = {...}`` of a backend module, read without running it.

    Only the dict's own lines are parsed (from ``SPEC = {`` to the first ``}``
    at the start of a line): parsing whole modules would cost ``import unielu``
    milliseconds.
    """
    text = path.read_text(encoding="utf-8")
    start = text.find("\nSPEC = {")
    end = text.find("\n}", start)
    if start < 0 or end < 0:
        raise LookupError(f"{path} has no SPEC = {{...}} of literals, closed by a '}}' line")
    spec: dict[str, Any] = ast.literal_eval(text[start + len("\nSPEC = ") : end + 2])
    return spec


#: What a backend module's ``SPEC`` may say: every field but ``module``.
_SPEC_KEYS = tuple(f.name for f in dataclasses.fields(BackendSpec) if f.name != "module")


def spec_from_dict(spec: dict[str, Any], module: str = "") -> BackendSpec:
    """A :class:`BackendSpec` from a ``SPEC`` dict, refusing keys it does not know."""
    unknown = sorted(set(spec) - set(_SPEC_KEYS))
    if unknown:
        raise ValueError(f"backend SPEC has unknown keys {unknown}; known: {list(_SPEC_KEYS)}")
    fields = dict(spec)
    fields["types"] = tuple(fields["types"])
    fields["test_env"] = tuple(fields.get("test_env", ({},)))
    fields["test_requirements"] = tuple(fields.get("test_requirements", ()))
    fields["layer_requirements"] = tuple(fields.get("layer_requirements", ()))
    return BackendSpec(**fields, module=module)


_REGISTERED: dict[str, BackendSpec] = {}
#: Called when the registry changes (the dispatch cache clears itself).
_ON_CHANGE: list[Callable[[], None]] = []


@functools.cache
def _builtin() -> tuple[BackendSpec, ...]:
    folder = Path(__file__).with_name("backends")
    found = []
    for path in sorted(folder.glob("[!_]*.py")):
        spec = spec_from_dict(_read_spec(path), f"unielu.backends.{path.stem}")
        if spec.name != path.stem:
            raise ValueError(f"{path}: SPEC name {spec.name!r} differs from the module's name")
        found.append(spec)
    return tuple(found)


def registry() -> tuple[BackendSpec, ...]:
    """Every backend, in the order :func:`unielu.get_backend` tries them."""
    specs = {b.name: b for b in _builtin()} | _REGISTERED
    return tuple(sorted(specs.values(), key=lambda b: (b.priority, b.name)))


def get_spec(name: str) -> BackendSpec:
    """The registry entry of backend ``name``."""
    for spec in registry():
        if spec.name == name:
            return spec
    raise KeyError(f"no backend named {name!r}; known: {[b.name for b in registry()]}")


#: Implementation module name -> its entry; filled on demand, emptied when the registry changes.
_BY_MODULE: dict[str, BackendSpec] = {}


def spec_of(module: ModuleType) -> BackendSpec:
    """The registry entry of a loaded implementation module."""
    try:
        return _BY_MODULE[module.__name__]
    except KeyError:
        _BY_MODULE.update({spec.module: spec for spec in registry()})
        return _BY_MODULE[module.__name__]


def register(spec: BackendSpec) -> BackendSpec:
    """Add (or replace) a backend at run time; returns it.

    Its ``module`` must define ``elu(x, alpha)`` and ``elu_derivative(x,
    alpha)`` (with ``out=None`` too if ``mutable``), and ``devices()``,
    ``from_numpy(a)`` and ``to_numpy(y)`` for the report and ``unielu plot``.
    """
    _REGISTERED[spec.name] = spec
    _BY_MODULE.clear()
    for hook in _ON_CHANGE:
        hook()
    return spec


def unregister(name: str) -> None:
    """Remove a backend added with :func:`register`."""
    _REGISTERED.pop(name, None)
    _BY_MODULE.clear()
    for hook in _ON_CHANGE:
        hook()
