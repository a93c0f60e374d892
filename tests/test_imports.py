"""The import graph of dip_heal: no cycles, no module reaching into another's private names (issue 15).

Every ``dip_heal`` module is parsed with ``ast`` (nothing is imported). All ``import`` and
``from ... import`` statements count, at module level and inside functions (relative imports
resolved; ``from . import x`` is an edge to the submodule ``x`` when there is one); imports under
``if TYPE_CHECKING:`` do not, as they never run. Lazy imports by string
(``importlib.import_module("dip_heal....")``) are not seen.

A private import is ``from M import _name`` (one leading underscore, not a dunder) where ``M`` is
another dip_heal module, or an attribute ``alias._name`` where ``alias`` is bound to another
dip_heal module by an import in the same file.

Run it as a script to print the cycles and private imports::

    python tests/test_imports.py
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path


PACKAGE = "dip_heal"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    line: int
    local: bool  # inside a function (runs when called), not at import time


@dataclass(frozen=True)
class PrivateUse:
    module: str
    line: int
    target: str
    name: str
    how: str  # "from-import" or "attribute"

    def __str__(self) -> str:
        what = f"from {self.target} import {self.name}" if self.how == "from-import" else f"{self.target}.{self.name}"
        return f"{self.module}:{self.line}: {what}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root`` (``__init__`` = the package)."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = modules
        self.depth = 0  # function nesting
        self.edges: list[Edge] = []
        self.private: list[PrivateUse] = []
        self.aliases: dict[str, str] = {}  # local name -> dip_heal module it is bound to
        self.attributes: list[ast.Attribute] = []

    # scopes
    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    # imports
    def _edge(self, dst: str, line: int) -> None:
        if dst in self.modules and dst != self.module:
            self.edges.append(Edge(self.module, dst, line, self.depth > 0))

    def _owning_module(self, dotted: str) -> str | None:
        """The longest prefix of ``dotted`` that is a dip_heal module."""
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            cand = ".".join(parts[:i])
            if cand in self.modules:
                return cand
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            target = self._owning_module(a.name)
            if target is None:
                continue
            self._edge(target, node.lineno)
            if a.asname:
                self.aliases[a.asname] = a.name if a.name in self.modules else target
            else:  # "import dip_heal.fit" binds "dip_heal"
                head = a.name.split(".")[0]
                if head in self.modules:
                    self.aliases[head] = head

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            up = node.level - 1
            if up > len(base_parts) - 1:
                return
            base = ".".join(base_parts[: len(base_parts) - up])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        if base not in self.modules and self._owning_module(base) is None:
            return
        for a in node.names:
            sub = f"{base}.{a.name}"
            if sub in self.modules:  # "from . import fit": the submodule
                self._edge(sub, node.lineno)
                self.aliases[a.asname or a.name] = sub
                if _is_private(a.name):
                    self.private.append(PrivateUse(self.module, node.lineno, base, a.name, "from-import"))
                continue
            self._edge(base, node.lineno)
            if _is_private(a.name) and base != self.module:
                self.private.append(PrivateUse(self.module, node.lineno, base, a.name, "from-import"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attributes.append(node)
        self.generic_visit(node)

    def private_attributes(self) -> list[PrivateUse]:
        """``alias.x.y._name`` where ``alias`` (an import in this file) names another module."""
        found = []
        for node in self.attributes:
            if not _is_private(node.attr):
                continue
            chain, v = [], node.value
            while isinstance(v, ast.Attribute):
                chain.append(v.attr)
                v = v.value
            if not isinstance(v, ast.Name) or v.id not in self.aliases:
                continue
            dotted = ".".join([self.aliases[v.id], *reversed(chain)])
            if dotted in self.modules and dotted != self.module:
                found.append(PrivateUse(self.module, node.lineno, dotted, node.attr, "attribute"))
        return found


def analyse(root: Path = ROOT) -> tuple[dict[str, list[Edge]], list[PrivateUse]]:
    """The import edges of every module and every private use across modules."""
    files = module_files(root)
    names = set(files)
    graph: dict[str, list[Edge]] = {}
    private: list[PrivateUse] = []
    for mod, path in files.items():
        v = _Visitor(mod, path.name == "__init__.py", names)
        v.visit(ast.parse(path.read_text(), filename=str(path)))
        graph[mod] = v.edges
        private += v.private + v.private_attributes()
    return graph, sorted(set(private), key=lambda p: (p.module, p.line, p.name))


def find_cycles(graph: dict[str, list[Edge]], limit: int = 500) -> list[list[str]]:
    """Elementary cycles, each once, starting at its smallest module name (at most ``limit``)."""
    succ = {m: sorted({e.dst for e in es}) for m, es in graph.items()}
    cycles: list[list[str]] = []
    for start in sorted(succ):
        stack = [(start, [start])]
        while stack and len(cycles) < limit:
            node, path = stack.pop()
            for nxt in reversed(succ.get(node, [])):
                if nxt == start:
                    cycles.append(path + [start])
                elif nxt > start and nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return sorted(cycles, key=lambda c: (len(c), c))


def _fmt_cycle(cycle: list[str], graph: dict[str, list[Edge]]) -> str:
    hops = []
    for a, b in zip(cycle, cycle[1:]):
        es = [e for e in graph[a] if e.dst == b]
        where = ",".join(sorted({f"{e.line}{'' if e.local else '*'}" for e in es}, key=lambda t: int(t.rstrip("*"))))
        hops.append(f"{a.removeprefix(PACKAGE + '.')} -({where})->")
    return " ".join(hops) + " " + cycle[-1].removeprefix(PACKAGE + ".")


# --------------------------------------------------------------------------------------- tests
def test_the_checker_sees_known_edges():
    """Guards the parser itself (not expected to fail): relative, nested and package imports."""
    graph, _ = analyse()
    edges = {(e.src, e.dst, e.local) for es in graph.values() for e in es}
    assert ("dip_heal.dip.batched", "dip_heal.config", False) in edges  # module level: from ..config import
    assert ("dip_heal.dip.batched", "dip_heal.dip.problem", True) in edges  # inside fit_batched
    assert ("dip_heal.cli.fit_cmd", "dip_heal.config", True) in edges  # from ..config inside a command
    assert len(graph) > 20


def test_no_import_cycles():
    graph, _ = analyse()
    cycles = find_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycle(s) among dip_heal modules (line numbers; * = module level):\n" + \
        "\n".join(_fmt_cycle(c, graph) for c in cycles)


def test_no_private_names_across_modules():
    _, private = analyse()
    assert not private, f"{len(private)} use(s) of another module's private names:\n" + "\n".join(map(str, private))


# -------------------------------------------------------------------------------------- script
def main() -> int:
    graph, private = analyse()
    cycles = find_cycles(graph)
    n_edges = sum(len({e.dst for e in es}) for es in graph.values())
    print(f"{len(graph)} modules, {n_edges} import edges among them")
    print(f"\n{len(cycles)} import cycle(s) (edge labels: line numbers of the imports; * = module level):")
    for c in cycles:
        print("  " + _fmt_cycle(c, graph))
    print(f"\n{len(private)} use(s) of another module's private names:")
    for p in private:
        print(f"  {p}")
    return 1 if cycles or private else 0


if __name__ == "__main__":
    sys.exit(main())
