"""What a cell's code says about itself, read from its AST before it runs.

From the syntax alone we learn which names it reads first (candidate inputs), which it
assigns (candidate outputs, metrics), which literals it assigns (parameters), which objects
it calls ``fit`` on (models) and which string literals may be file paths. The runtime checks
(is it a DataFrame? did its fingerprint change? is the estimator fitted?) come after.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})
WRITE_CALLS = frozenset(
    {"savefig", "save", "dump", "write", "write_text", "write_bytes", "save_model", "to_file"}
)
_MAX_PATH_LEN = 1024


@dataclass
class CellAnalysis:
    first_loaded: set[str] = field(default_factory=set)  # read before any assignment
    stored: set[str] = field(default_factory=set)
    # Bound only as a `for` target: a name for pieces of existing data, not new data.
    loop_only: set[str] = field(default_factory=set)
    fitted: dict[str, str | None] = field(default_factory=dict)  # model name -> X arg name
    literal_params: dict[str, Any] = field(default_factory=dict)
    path_literals: dict[str, bool] = field(default_factory=dict)  # literal -> written by a call


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _call_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _is_write_call(call: ast.Call) -> bool:
    name = _call_name(call.func) or ""
    if name.startswith("to_") or name in WRITE_CALLS:
        return True
    if name == "open":
        mode = call.args[1] if len(call.args) > 1 else None
        for kw in call.keywords:
            if kw.arg == "mode":
                mode = kw.value
        ok, value = _literal(mode) if mode is not None else (False, None)
        return ok and isinstance(value, str) and any(c in value for c in "wax+")
    return False


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.result = CellAnalysis()
        self._seen: set[str] = set()
        self._in_loop_target = False
        self._loop_stored: set[str] = set()
        self._other_stored: set[str] = set()

    # Names in source order: the first occurrence decides whether it is an input.
    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in self._seen:
            self._seen.add(node.id)
            if isinstance(node.ctx, ast.Load):
                self.result.first_loaded.add(node.id)
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.result.stored.add(node.id)
            (self._loop_stored if self._in_loop_target else self._other_stored).add(node.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._in_loop_target = True
        self.visit(node.target)
        self._in_loop_target = False
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_Assign(self, node: ast.Assign) -> None:
        # The value is evaluated before the targets are bound: visit it first.
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            name = node.target.id
            if name not in self._seen:
                self._seen.add(name)
                self.result.first_loaded.add(name)
            self.result.stored.add(name)
            self._other_stored.add(name)
        else:
            self.visit(node.target)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in FIT_METHODS:
            owner = func.value
            if isinstance(owner, ast.Name):
                x_arg = node.args[0] if node.args else None
                self.result.fitted[owner.id] = x_arg.id if isinstance(x_arg, ast.Name) else None
        writes = _is_write_call(node)
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._path(arg.value, writes)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._path(node.value, False)

    def _path(self, text: str, written: bool) -> None:
        if 0 < len(text) <= _MAX_PATH_LEN and "\n" not in text and "\x00" not in text:
            self.result.path_literals[text] = self.result.path_literals.get(text, False) or written

    # Definitions bind a name but are not data; their bodies are not run by the cell itself.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._seen.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._seen.add(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._seen.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import


def analyze(tree: ast.Module) -> CellAnalysis:
    visitor = _Visitor()
    visitor.visit(tree)
    result = visitor.result
    result.loop_only = visitor._loop_stored - visitor._other_stored
    for stmt in tree.body:
        target: ast.AST | None = None
        value: ast.AST | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and value is not None:
            ok, literal = _literal(value)
            if ok:
                result.literal_params[target.id] = literal
    return result


def parse(source: str) -> ast.Module:
    return ast.parse(source)
