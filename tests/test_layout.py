"""The layout rules of ARCHITECTURE.md, checked on the package's source.

* Every error raised about user input is a named subclass of :class:`BayessprError`, so
  ``except bayesspr.BayessprError`` catches all of them: the package raises no bare
  ``ValueError``.
* Data flows one way: no room imports a room later in the pipeline (:data:`ROOMS`), and no
  module imports itself back through others (no cycle), function-level imports included.
* One definition of the version lookup and of the shared defaults.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

import bayesspr
from bayesspr import errors

PACKAGE = Path(bayesspr.__file__).resolve().parent

#: The rooms in pipeline order; a room may import those before it (and its own modules).
ROOMS = (
    ("_exports", "errors", "defaults", "parallel", "vector_math"),
    ("io",),
    ("inference",),
    ("data",),
    ("spr",),
    ("volume",),
    ("simulate",),
    ("forecasting",),
    ("fleet",),
    ("deploy",),
    ("evaluation",),
    ("monitor",),
    ("reporting",),
    ("cli",),
    ("__init__",),
)
RANK = {room: rank for rank, rooms in enumerate(ROOMS) for room in rooms}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _raised_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every ``raise Name(...)`` or ``raise Name`` in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                found.append((node.lineno, target.id))
    return found


def test_the_package_raises_no_bare_value_error():
    bare = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in _sources()
        for line, name in _raised_names(ast.parse(path.read_text(encoding="utf-8")))
        if name == "ValueError"
    ]
    assert not bare, f"raise a named bayesspr.errors class instead of ValueError at: {bare}"


def test_every_error_class_is_a_bayesspr_error():
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == errors.__name__
    ]
    assert len(classes) >= 15
    assert all(issubclass(cls, errors.BayessprError) for cls in classes)
    assert set(errors.__all__) >= {cls.__name__ for cls in classes}


def test_problem_lists_share_one_message_format():
    problems = [errors.Problem(3, "zip", "x", "expected a zip code")] * 60
    for cls, subject in (
        (errors.DataError, "observation table has"),
        (errors.DeployInputError, "deployment inputs have"),
    ):
        message = str(cls(problems))
        assert message.startswith(f"{subject} 60 problems:")
        assert "row 3, column 'zip', value 'x': expected a zip code" in message
        assert message.endswith("... and 10 more")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """Package modules a module imports anywhere in it (not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("bayesspr"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bayesspr"))
    modules = {_module_name(p) for p in _sources()}
    return {name for name in found if name in modules}


@pytest.fixture(scope="module")
def import_graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in _sources()}


def test_every_room_has_its_place_in_the_pipeline(import_graph):
    rooms = {_room(module) for module in import_graph}
    assert rooms <= set(RANK), f"rooms without a place in ROOMS: {sorted(rooms - set(RANK))}"


def test_no_room_imports_one_later_in_the_pipeline(import_graph):
    backwards = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph.items()
        for target in targets
        if RANK[_room(target)] > RANK[_room(module)]
    )
    assert not backwards, backwards


def test_no_module_imports_itself_back(import_graph):
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(import_graph.get(module, ())):
            if target == module or _is_parent(target, module):
                continue  # a package importing its own __init__ names is not a cycle
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(import_graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def test_one_version_lookup_and_one_home_for_defaults():
    lookups = [
        str(path.relative_to(PACKAGE.parent))
        for path in _sources()
        if re.search(r"metadata\.version\(|importlib\.metadata import version", path.read_text())
    ]
    assert lookups == ["bayesspr/defaults.py"], lookups
    shared = (
        "DEFAULT_SERVICE_LEVEL",
        "DEFAULT_PEAK_SHARE",
        "DEFAULT_SHIFT_HOURS",
        "MAX_HORIZON",
        "MAX_HARMONICS",
        "DEFAULT_INTERVAL",
        "RHAT_MAX",
        "ESS_MIN",
    )
    defined = {
        name: [
            str(path.relative_to(PACKAGE.parent))
            for path in _sources()
            if re.search(rf"^{name}\s*(:[^=]+)?=", path.read_text(), flags=re.M)
        ]
        for name in shared
    }
    assert all(where == ["bayesspr/defaults.py"] for where in defined.values()), defined
