"""What a cell's code says about itself, read from its AST before it runs.

From the syntax alone we learn which names it reads first (candidate inputs), which it
assigns (candidate outputs, metrics), which literals it assigns (parameters), which objects
it calls ``fit`` on (models) and which string literals may be file paths. The runtime checks
(is it a DataFrame? did its fingerprint change? is the estimator fitted?) come after.
"""

from __future__ import annotations

import ast
import glob
from dataclasses import dataclass, field
from typing import Any

FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})
WRITE_CALLS = frozenset(
    {"savefig", "save", "dump", "write", "write_text", "write_bytes", "save_model", "to_file"}
)
MAX_PATH_LEN = 1024  # longer text is not taken for a path
# Calls that build a path from their arguments, as the `/` operator does.
PATH_CALLS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath", "join"})
# Methods called on a path that read or write the file it names.
PATH_METHODS = frozenset(
    {"write_text", "write_bytes", "read_text", "read_bytes", "open", "touch", "unlink"}
)


@dataclass(frozen=True)
class PathPattern:
    """A file path the cell builds with an expression (``Path("out") / f"{name}.csv"``).

    ``root`` names the variable the expression starts from (its value, a str or a path, is
    read at run time) or is None when it starts from a literal; ``pattern`` is the rest, with
    ``*`` for each computed piece (literal pieces are glob-escaped). ``written`` when it is
    an argument of a call that writes.
    """

    root: str | None
    pattern: str
    written: bool

    @property
    def exact(self) -> bool:
        """Whether it names one file (nothing computed but the root)."""
        return not glob.has_magic(self.pattern)


@dataclass
class CellAnalysis:
    first_loaded: set[str] = field(default_factory=set)  # read before any assignment
    stored: set[str] = field(default_factory=set)
    # Bound only as a `for` target: a name for pieces of existing data, not new data.
    loop_only: set[str] = field(default_factory=set)
    fitted: dict[str, str | None] = field(default_factory=dict)  # model name -> X arg name
    fitted_y: dict[str, str | None] = field(default_factory=dict)  # model name -> y arg name
    literal_params: dict[str, Any] = field(default_factory=dict)
    path_literals: dict[str, bool] = field(default_factory=dict)  # literal -> written by a call
    path_patterns: set[PathPattern] = field(default_factory=set)


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
        value = node.value
        # model = Estimator(...).fit(X, y): fit returns the estimator, now named `model`.
        if (
            len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "fit"
            and not isinstance(value.func.value, ast.Name)
        ):
            self._fitted(node.targets[0].id, value)

    def _fitted(self, model: str, call: ast.Call) -> None:
        x_arg = call.args[0] if call.args else _keyword(call, "X")
        y_arg = call.args[1] if len(call.args) > 1 else _keyword(call, "y")
        self.result.fitted[model] = x_arg.id if isinstance(x_arg, ast.Name) else None
        self.result.fitted_y[model] = y_arg.id if isinstance(y_arg, ast.Name) else None

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
                self._fitted(owner.id, node)
        writes = _is_write_call(node)
        args = [*node.args, *(kw.value for kw in node.keywords)]
        if isinstance(func, ast.Attribute) and func.attr in PATH_METHODS:
            args.append(func.value)  # out.write_text(...), (folder / "a.txt").open("w")
            writes = writes or func.attr in ("write_text", "write_bytes", "touch")
        builds_path = _builds_path(node)  # its arguments are pieces, not paths
        for arg in args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._path(arg.value, writes)
            elif not builds_path:
                self._path_expression(arg, writes)
        self.generic_visit(node)

    def _path_expression(self, node: ast.AST, written: bool) -> None:
        found = path_pattern(node)
        if found is None:
            return
        pattern = PathPattern(found[0], "/".join(found[1]), written)
        # A computed name is only looked for where the cell writes, and only with a literal
        # part to match ("*.csv", not "*"): reading one file must not make every match an input.
        if not pattern.exact and not (written and pattern.pattern.strip("*/")):
            return
        self.result.path_patterns.add(pattern)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._path(node.value, False)

    def _path(self, text: str, written: bool) -> None:
        if 0 < len(text) <= MAX_PATH_LEN and "\n" not in text and "\x00" not in text:
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


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _builds_path(call: ast.Call) -> bool:
    """``Path(...)``, ``pathlib.PurePath(...)``, ``os.path.join(...)``: not ``", ".join``."""
    name = _call_name(call.func)
    if name != "join":
        return name in PATH_CALLS
    owner = call.func.value if isinstance(call.func, ast.Attribute) else None
    return (isinstance(owner, ast.Attribute) and owner.attr == "path") or (
        isinstance(owner, ast.Name) and owner.id in ("path", "posixpath", "ntpath")
    )


def _piece(node: ast.AST) -> str | None:
    """One piece of a path as a glob: a literal (escaped), an f-string with ``*`` for each
    computed part, ``*`` for any other expression."""
    if isinstance(node, ast.Constant):
        return glob.escape(node.value) if isinstance(node.value, str) and node.value else None
    if isinstance(node, ast.JoinedStr):
        return "".join(
            glob.escape(v.value)
            if isinstance(v, ast.Constant) and isinstance(v.value, str)
            else "*"
            for v in node.values
        )
    return "*"


def path_pattern(node: ast.AST) -> tuple[str | None, list[str]] | None:
    """``(root variable or None, pieces)`` of a path expression: ``Path(a, b)``,
    ``os.path.join(a, b)``, ``a / b``, an f-string, or a bare variable (no pieces); None for
    anything else."""
    if isinstance(node, ast.Name):
        return node.id, []
    if isinstance(node, ast.JoinedStr):
        piece = _piece(node)
        return (None, [piece]) if piece else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = path_pattern(node.left)
        if left is None or not (left[1] or isinstance(node.left, ast.Name | ast.BinOp | ast.Call)):
            return None
        right = _piece(node.right)
        return (left[0], [*left[1], right]) if right else None
    if isinstance(node, ast.Call) and node.args and _builds_path(node):
        first = node.args[0]
        head = path_pattern(first) if not isinstance(first, ast.Constant) else (None, [])
        if head is None:
            return None
        pieces = [*head[1]]
        for arg in node.args if isinstance(first, ast.Constant) else node.args[1:]:
            piece = _piece(arg)
            if piece is None:
                return None
            pieces.append(piece)
        return head[0], pieces
    return None


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
