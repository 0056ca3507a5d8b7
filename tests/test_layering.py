"""The import graph of src/ganforge: no cycles, and every package imports only the layers below it.

The graph is read with ``ast`` from the source (no import is executed): module-level imports and imports inside
functions alike (a lazy import is still a dependency), but not those under ``if TYPE_CHECKING:`` (annotations
only). ``from ganforge.X import Y`` counts as an import of ``ganforge.X.Y`` when that is a module, else of
``ganforge.X``. A *room* is a top-level package or module of ``ganforge`` (``data``, ``kinds``, ``builder``, ...).

``LAYERS`` orders the rooms bottom to top; a room may import its own layer's rooms and those below. An arrow up is
allowed only where it is listed in ``BACK_ARROWS`` with its reason: a registry (or the API) looked up at run
time. A listed arrow that no longer exists fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"

# bottom to top; rooms in one tuple are one layer
LAYERS: tuple[tuple[str, ...], ...] = (
    # ganforge = the root package (__version__); preflight = the up-front input/output checks
    ("ganforge", "registry", "lazy", "outputs", "options", "preflight"),
    ("config",),
    ("data",),  # loading, spec(), source(), kind
    ("checkpoint",),  # the checkpoint layout: written by training, read by the commands and by SRGAN's init_from
    ("metrics", "viz"),
    ("models",),
    ("losses",),
    ("sampling",),  # "the n samples of seed S"
    ("builder",),  # config -> dataset, networks, objective
    ("training",),
    ("kinds",),  # per data kind: samples, evaluation, export, report section
    ("report",),
    ("commands", "bench"),  # bench: the benches the CLI runs (ganforge bench modes)
    ("api",),
    ("cli", "entry", "__main__"),
)

# (importing module, imported module or package): why this arrow may point up
BACK_ARROWS: dict[tuple[str, str], str] = {
    ("ganforge", "ganforge.api"):
        "the root package re-exports the API lazily (PEP 562 __getattr__), so `import ganforge` stays cheap",
    ("ganforge.training.run", "ganforge.kinds"):
        "registry at run time: Run asks hooks_for(data.kind) (RUN_HOOKS) for its kind's samples and evaluation",
    ("ganforge.report", "ganforge.api"):
        "registry at run time: a kind's report section loads the run through ganforge.api (passed in as RunLoader)",
}


def module_name(path: Path) -> str:
    parts = ["ganforge", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, source: str | None = None, is_package: bool = False) -> set[str]:
    """The ganforge modules (or packages) module ``name`` imports anywhere in its source (read from its file unless
    given), as dotted names."""
    if source is None:
        source, is_package = MODULES[name].read_text(encoding="utf-8"), MODULES[name].name == "__init__.py"
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ganforge")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base.split(".")[0] != "ganforge":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {m for m in found if m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def room(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "ganforge"


LAYER_OF = {r: i for i, layer in enumerate(LAYERS) for r in layer}


def allowed(a: str, b: str) -> bool:
    return (a, b) in BACK_ARROWS or any(a == x and b.startswith(y + ".") for x, y in BACK_ARROWS)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def kept_edges() -> dict[str, set[str]]:
    """Module graph without the listed back-arrows (which are looked up at run time, or known and listed)."""
    return {a: {b for b in bs if b in MODULES and not allowed(a, b)} for a, bs in GRAPH.items()}


def test_every_room_has_a_layer() -> None:
    rooms = {room(m) for m in MODULES}
    assert rooms - set(LAYER_OF) == set(), "add the new package or module to LAYERS"
    assert set(LAYER_OF) - rooms == set(), "a room in LAYERS no longer exists"


def test_no_cycles_between_modules() -> None:
    assert _cycles(kept_edges()) == []


def test_no_cycles_between_packages() -> None:
    rooms: dict[str, set[str]] = defaultdict(set)
    for a, bs in kept_edges().items():
        rooms[room(a)].update(room(b) for b in bs if room(b) != room(a))
    assert _cycles(rooms) == []


def test_packages_import_only_the_layers_below() -> None:
    upward = sorted(f"{a} -> {b}" for a, bs in GRAPH.items() for b in bs
                    if LAYER_OF[room(b)] > LAYER_OF[room(a)] and not allowed(a, b))
    assert upward == [], "an arrow up the layers: import the other way, or list it in BACK_ARROWS with its reason"


def test_every_listed_back_arrow_exists_and_points_up() -> None:
    for a, b in BACK_ARROWS:
        assert a in MODULES, f"BACK_ARROWS names {a!r}, which is no module"
        assert any(x == b or x.startswith(b + ".") for x in GRAPH[a]), f"{a} no longer imports {b}: drop it"
        assert LAYER_OF[room(b)] > LAYER_OF[room(a)], f"{a} -> {b} points down: not a back-arrow"


FOUNDATIONS = ("data", "registry", "lazy", "outputs", "options", "preflight")


def test_data_imports_nothing_above_its_foundations() -> None:
    """data/ keeps loading, spec(), source() and kind: it imports registry, lazy, outputs, options, preflight
    (the up-front input checks) and itself."""
    for a, bs in GRAPH.items():
        if room(a) == "data":
            above = sorted(b for b in bs if room(b) not in FOUNDATIONS and not allowed(a, b))
            assert above == [], f"{a} imports {above}"


@pytest.mark.parametrize(("source", "want"), [
    ("from ganforge.data import formats\nimport ganforge.kinds\n", {"ganforge.data.formats", "ganforge.kinds"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ganforge.api import Run\n"
     "def f():\n    from ganforge.builder import build_dataset\n", {"ganforge.builder"}),
    ("from .base import DataKind\nfrom . import toy\n", {"ganforge.kinds.base", "ganforge.kinds.toy"}),
])
def test_the_graph_reader(source: str, want: set[str]) -> None:
    """Function-level imports count, TYPE_CHECKING ones do not, and ``from pkg import module`` names the module."""
    assert imports_of("ganforge.kinds.probe", source) == want


def test_dataspec_is_imported_from_where_it_lives() -> None:
    """``DataSpec`` lives in ``data/base.py``; ``models.base`` uses it but no longer re-exports it."""
    wrong = sorted(name for name, path in MODULES.items() for node in ast.walk(ast.parse(path.read_text("utf-8")))
                   if isinstance(node, ast.ImportFrom) and node.module == "ganforge.models.base"
                   and any(a.name == "DataSpec" for a in node.names))
    assert wrong == []
