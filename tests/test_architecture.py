"""The import rules of docs/ARCHITECTURE.md, checked on the source: every `import` under formcheck/ (module level,
inside functions, under TYPE_CHECKING, and `importlib.import_module("literal")`) is parsed with `ast`, and the test
fails on an import circle, on an import of a higher layer, and on a forbidden third-party or tools/tests import.

Each failure names the file and line of the import and the rule it breaks, so the fix is obvious."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "formcheck"

# Lowest first; a module may import its own layer or a lower one. Names are module prefixes.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("formcheck.errors", "formcheck.config"),
    ("formcheck.core",),
    ("formcheck.mannequin",),
    ("formcheck.media",),
    ("formcheck.pipeline", "formcheck.evaluate", "formcheck.evaluate_cross"),
    ("formcheck.programme",),
    ("formcheck.store",),
    ("formcheck.webapp",),
    ("formcheck.cli",),
    ("formcheck", "formcheck.__main__"),  # the package root and `python -m formcheck` may import the cli
)
# The root package may be imported from anywhere for these plain constants (it must not import anything back at
# module level: the circle check would catch that).
ROOT_CONSTANTS = frozenset({"__version__"})

MEDIAPIPE_ONLY_IN = frozenset({"formcheck.media.pose"})
# The one other use, by name: the model builder writes the .task bundle's metadata with the flatbuffer schema that
# ships inside mediapipe (no runtime, no inference: `formcheck models` only).
MEDIAPIPE_SCHEMA_USERS = {"formcheck.media.models": "mediapipe.tasks.metadata"}
CORE_FORBIDDEN = frozenset({"cv2", "av", "mediapipe", "fastapi", "starlette", "sqlalchemy", "celery", "uvicorn"})
NOT_FROM_PACKAGE = frozenset({"tools", "tests", "benchmarks"})
# formcheck.cli.sweep loads tools.synth.sweep from a checkout on purpose (the fixture generator is not shipped).
TOOLS_ALLOWED_IN = frozenset({"formcheck.cli.sweep"})


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's target, with where it is written."""

    importer: str  # dotted module name of the importing file
    target: str  # dotted name of the imported module (most specific known formcheck module, else as written)
    names: tuple[str, ...]  # `from X import a, b`: ("a", "b"); plain `import X`: ()
    path: str  # repo-relative file path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _targets(node: ast.AST, importer: str, is_package: bool, known: set[str]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(target module, imported names) for one AST node, or nothing when the node is no import."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, ()
    elif isinstance(node, ast.ImportFrom):
        base = _resolve_relative(importer, is_package, node.level, node.module) if node.level else node.module or ""
        plain = tuple(a.name for a in node.names if f"{base}.{a.name}" not in known)
        for alias in node.names:  # `from formcheck.core import analysis` depends on the submodule
            if f"{base}.{alias.name}" in known:
                yield f"{base}.{alias.name}", (alias.name,)
        if plain:
            yield base, plain
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0] if node.args else None
        if name in {"import_module", "__import__"} and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, ()


def collect_imports() -> list[Import]:
    modules = package_modules()
    known = set(modules)
    found: list[Import] = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            for target, names in _targets(node, importer, path.name == "__init__.py", known):
                found.append(Import(importer, target, names, rel, getattr(node, "lineno", 0)))
    return found


def layer_of(module: str) -> int | None:
    """Index of the layer whose longest prefix matches `module`, None when it is in no layer."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def _layer_name(index: int) -> str:
    return " / ".join(p.removeprefix("formcheck.") for p in LAYERS[index])


def _top(module: str) -> str:
    return module.split(".")[0]


def internal_graph(imports: list[Import]) -> dict[str, dict[str, Import]]:
    """importer -> {imported formcheck module -> first import statement}."""
    modules = set(package_modules())
    graph: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.importer:
            graph[imp.importer].setdefault(imp.target, imp)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module, i.e. the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def cycle_through(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """One concrete circle inside a strongly connected component, as the import statements that make it."""
    members = set(component)
    start = component[0]
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:  # breadth first: the shortest way back to the start
        node = queue.pop(0)
        for child, imp in sorted(graph[node].items()):
            if child not in members:
                continue
            if child == start:
                return [*paths[node], imp]
            if child not in paths:
                paths[child] = [*paths[node], imp]
                queue.append(child)
    raise AssertionError(f"{component} is not a circle")  # pragma: no cover - Tarjan guarantees one


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return collect_imports()


def test_the_parser_sees_the_package(imports: list[Import]) -> None:
    """Guards the other tests against passing on an empty graph: known edges of the tree must be found."""
    modules = package_modules()
    assert "formcheck.core.rules" in modules and "formcheck.cli" in modules
    graph = internal_graph(imports)
    assert sum(len(v) for v in graph.values()) > 50
    assert any(i.importer.startswith("formcheck.cli") and i.target.startswith("formcheck.") for i in imports)
    # function-level imports count: the pose module imports mediapipe inside a function
    assert any(i.importer == "formcheck.media.pose" and _top(i.target) == "mediapipe" for i in imports)


def test_every_module_is_in_a_layer() -> None:
    missing = [m for m in package_modules() if layer_of(m) is None]
    assert not missing, f"modules in no layer (add them to LAYERS here and to docs/ARCHITECTURE.md): {missing}"


def test_no_import_circles(imports: list[Import]) -> None:
    graph = internal_graph(imports)
    problems = []
    for component in strongly_connected(graph):
        steps = "".join(f"{imp.importer} --[{imp.where}]--> " for imp in cycle_through(graph, component))
        edges = [
            f"    {imp.where}: {a} imports {b}" for a in component for b, imp in graph[a].items() if b in component
        ]
        problems.append(f"import circle: {steps}{component[0]}; all imports inside it:\n" + "\n".join(edges))
    assert not problems, "\n".join(problems)


def test_no_import_of_a_higher_layer(imports: list[Import]) -> None:
    problems = []
    for imp in imports:
        if _top(imp.target) != "formcheck" or imp.target == imp.importer:
            continue
        if imp.target == "formcheck" and imp.names and set(imp.names) <= ROOT_CONSTANTS:
            continue
        low, high = layer_of(imp.importer), layer_of(imp.target)
        if low is None or high is None or high <= low:
            continue
        problems.append(
            f"{imp.where}: {imp.importer} imports {imp.target}: layer {low} ({_layer_name(low)}) "
            f"may not import layer {high} ({_layer_name(high)})"
        )
    assert not problems, "\n".join(sorted(problems))


def test_only_the_pose_module_imports_mediapipe(imports: list[Import]) -> None:
    problems = [
        f"{i.where}: {i.importer} imports {i.target}: only {sorted(MEDIAPIPE_ONLY_IN)} may import mediapipe"
        for i in imports
        if _top(i.target) == "mediapipe"
        and i.importer not in MEDIAPIPE_ONLY_IN
        and not i.target.startswith(MEDIAPIPE_SCHEMA_USERS.get(i.importer, "\0"))
    ]
    assert not problems, "\n".join(problems)


def test_core_stays_pure(imports: list[Import]) -> None:
    problems = [
        f"{i.where}: {i.importer} imports {i.target}: formcheck.core may not import {sorted(CORE_FORBIDDEN)}"
        for i in imports
        if layer_of(i.importer) == 1 and _top(i.target) in CORE_FORBIDDEN
    ]
    assert not problems, "\n".join(problems)


def test_the_package_imports_no_tools_or_tests(imports: list[Import]) -> None:
    problems = [
        f"{i.where}: {i.importer} imports {i.target}: nothing under formcheck/ imports {sorted(NOT_FROM_PACKAGE)}"
        for i in imports
        if _top(i.target) in NOT_FROM_PACKAGE and not (_top(i.target) == "tools" and i.importer in TOOLS_ALLOWED_IN)
    ]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_planted_violation() -> None:
    """The rule functions on a made-up graph: an upward edge and a circle are both found."""
    a = Import("formcheck.core.x", "formcheck.webapp.y", (), "a.py", 1)
    b = Import("formcheck.webapp.y", "formcheck.core.x", (), "b.py", 2)
    graph = {"formcheck.core.x": {"formcheck.webapp.y": a}, "formcheck.webapp.y": {"formcheck.core.x": b}}
    components = strongly_connected(graph)
    assert components == [["formcheck.core.x", "formcheck.webapp.y"]]
    assert cycle_through(graph, components[0]) == [a, b]
    assert layer_of(a.importer) == 1 and layer_of(a.target) == 7
    assert layer_of("formcheck") == len(LAYERS) - 1 and layer_of("formcheck.errors") == 0


# Size limits of issue 10: a file a newcomer can read in one sitting, a function that fits on a screen. A longer
# function says why in its docstring ("Long because ..."): tables and declarative schemas, not logic.
MAX_FILE_LINES = 520
MAX_FUNCTION_LINES = 60
LONG_REASON = "Long because"


def test_files_and_functions_stay_small() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PACKAGE.parent)
        if text.count("\n") > MAX_FILE_LINES:
            problems.append(f"{rel}: {text.count(chr(10))} lines (> {MAX_FILE_LINES}): split it by concern")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n_lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if n_lines > MAX_FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                    problems.append(
                        f"{rel}:{node.lineno}: {node.name} is {n_lines} lines (> {MAX_FUNCTION_LINES}) "
                        f"and its docstring gives no '{LONG_REASON} ...'"
                    )
    assert not problems, "\n".join(problems)


def test_the_package_docstring_names_real_entry_points() -> None:
    """The package docstring is the newcomer's first map: every name it imports must exist."""
    import importlib

    import formcheck

    lines = [ln.strip() for ln in (formcheck.__doc__ or "").splitlines() if ln.strip().startswith("from formcheck")]
    assert len(lines) >= 3
    for line in lines:
        module, _, names = line.split("#")[0].removeprefix("from ").partition(" import ")
        for name in names.split(","):
            assert hasattr(importlib.import_module(module.strip()), name.strip()), line
