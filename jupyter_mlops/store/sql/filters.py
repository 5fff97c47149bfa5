"""The run filter language (``metrics.acc > 0.9 and params.model = 'rf'``), translated to SQL.

Every comparison becomes ``runs.id IN (SELECT run_id FROM <table> WHERE key = ? AND ...)``: an
uncorrelated subquery that SQLite and PostgreSQL answer from the ``(key, value)`` indexes, so a
search never scans the metric/param/tag tables nor filters runs in Python. Every leaf is TRUE or
FALSE, never NULL, which makes ``not`` the plain complement (runs lacking the key included).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import iterate

from jupyter_mlops.entities import RunStatus
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.store.sql.schema import experiments, latest_metrics, params, runs, tags

__all__ = [
    "FILTER_HELP", "And", "Comparison", "Field", "Node", "Not", "Or", "OrderKey", "Value",
    "apply_order_by", "compile_filter", "compile_order_by", "parse_filter",
]  # fmt: skip

# name -> (SQL expression, kind of value): "text", "number", "status" (compared upper-case) or
# "experiment" (compared through experiments.name).
_ATTRIBUTES: dict[str, tuple[ColumnElement[Any], str]] = {
    "id": (runs.c.id, "text"), "run_id": (runs.c.id, "text"), "name": (runs.c.name, "text"),
    "status": (runs.c.status, "status"), "user": (runs.c.user, "text"),
    "experiment": (experiments.c.name, "experiment"),
    "experiment_id": (runs.c.experiment_id, "number"),
    "start_time": (runs.c.start_time, "number"), "end_time": (runs.c.end_time, "number"),
    "duration": (runs.c.end_time - runs.c.start_time, "number"),
    "notebook": (runs.c.notebook_path, "text"), "notebook_path": (runs.c.notebook_path, "text"),
    "cell_id": (runs.c.cell_id, "text"), "git_commit": (runs.c.git_commit, "text"),
    "parent_run_id": (runs.c.parent_run_id, "text"),
    "execution_count": (runs.c.execution_count, "number"), "host": (runs.c.host, "text"),
}  # fmt: skip
_PREFIXES = {
    "params": "param", "param": "param", "metrics": "metric", "metric": "metric",
    "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
}  # fmt: skip
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
_STATUSES = tuple(s.value for s in RunStatus)
# Params and tags are stored as text; Python's str(True) is 'True', JSON's is 'true'.
_BOOL_TEXTS = {True: ("True", "true", "TRUE"), False: ("False", "false", "FALSE")}
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_ORDERING = ("<", "<=", ">", ">=")
_SINGLE = ("=", "!=", *_ORDERING, "like", "not like", "ilike", "not ilike")
_NULL_OPS = ("is null", "is not null")
_NEGATIVE = ("!=", "not in", "not like", "not ilike")
_EXAMPLE = "metrics.acc > 0.9 and params.model = 'rf'"
_MAX_DEPTH = 100  # nesting of parentheses / not; deeper input would hit Python's recursion limit

FILTER_HELP = f"""\
Filter runs with comparisons joined by and, or, not and parentheses (and binds tighter than or):
  metrics.<key> <op> <number>       metrics.acc > 0.9   metrics.loss = nan   metrics.loss < inf
  params.<key>  <op> <number|text>  params.lr <= 1e-3 (numbers compare numerically: 10 > 9)
                                    params.model = 'rf' (quoted values compare as text)
  tags.<key>    <op> <text>         tags.team = 'vision'
  <attribute>   <op> <value>        status = 'failed'   experiment = 'churn'   duration > 60000
Operators: = (==), != (<>), <, <=, >, >=, [not] in (v1, v2, ...), [not] like / ilike '%pat%',
is null, is not null. Text goes in 'single quotes' ('' or \\' for a quote); true / false match
'True' / 'true'. Quote keys with spaces: params."max depth" = 3 or params.`max depth` = 3.
A run lacking the key matches only `is null` (and `not ...`): != and not in need the key.
NaN metrics match only `= nan` and `in (..., nan)`.
Attributes: {", ".join(_ATTRIBUTES)}.
Times are epoch milliseconds; duration is end_time - start_time in ms; experiment is its name.
Example: metrics.acc > 0.9 and (params.model = 'rf' or tags.stage in ('prod', 'staging'))
Order by: "metrics.acc DESC", "params.lr", "start_time ASC" (runs lacking the key come last)."""


@dataclass(frozen=True)
class Field:
    """What a comparison reads: ``kind`` is metric, param, tag or attribute (key = its name)."""

    kind: str
    key: str
    column: int = 0

    @property
    def label(self) -> str:
        return self.key if self.kind == "attribute" else f"{self.kind}s.{self.key}"


@dataclass(frozen=True)
class Value:
    """A literal: ``value`` is int/float (numbers, incl. nan/inf), str (quoted) or bool."""

    value: int | float | str | bool
    text: str = ""  # as written, so that `tags.epoch = 10` compares the text '10'
    column: int = 0


@dataclass(frozen=True)
class Comparison:
    """``field op values``; op is one of = != < <= > >= in, not in, [not] [i]like, is [not] null."""

    field: Field
    op: str
    values: tuple[Value, ...] = ()
    column: int = 0


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Comparison | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, number, string, op, punct, end
    text: str  # as written
    value: Any
    column: int


_TOKEN = re.compile(
    r"""(?P<space>\s+) | (?P<punct>[(),]) | (?P<op>==|!=|<>|<=|>=|=|<|>) | (?P<quote>['"`])
    | (?P<number>[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan)(?![\w.]))
    | (?P<ident>[a-z_][\w\-./:]*)""",
    re.ASCII | re.IGNORECASE | re.VERBOSE,
)


def _invalid(column: int, message: str, what: str = "filter") -> InvalidInput:
    return InvalidInput(f"Invalid {what} at column {column}: {message}")


class _Parser:
    """Recursive descent over the whole token list (inputs are short: one line of text)."""

    def __init__(self, text: str, what: str = "filter", example: str = _EXAMPLE) -> None:
        self.text, self.what, self.example = text, what, example
        self.tokens, self.pos, self.depth = self.tokenize(), 0, 0

    def error(self, column: int, message: str) -> InvalidInput:
        return InvalidInput(
            f"Malformed {self.what} at column {column}: {message}. Example: {self.example}"
        )

    def tokenize(self) -> list[_Token]:
        text, tokens, i = self.text, [], 0
        while i < len(text):
            m = _TOKEN.match(text, i)
            if m is None:
                if text[i] not in "0123456789+-.":
                    raise self.error(i + 1, f"unexpected character '{text[i]}'")
                bad = re.split(r"[\s(),'\"`=<>!]", text[i:], maxsplit=1)[0]
                raise self.error(i + 1, f"expected a number, found '{bad}'")
            kind, i = m.lastgroup or "", m.end()
            value: Any = m.group()
            if kind == "quote":
                i, value = self.read_quoted(m.start())
                kind = "string"
            elif kind == "number":
                value = int(value) if value.lstrip("+-").isdigit() else float(value)
            if kind != "space":
                tokens.append(_Token(kind, text[m.start() : i], value, m.start() + 1))
        return [*tokens, _Token("end", "", None, len(text) + 1)]

    def read_quoted(self, start: int) -> tuple[int, str]:
        text, quote, chars, i = self.text, self.text[start], [], start + 1
        while i < len(text):
            if text[i] == "\\" and text[i + 1 : i + 2] in (quote, "\\"):
                chars.append(text[i + 1])
                i += 2
            elif text[i] == quote and text[i + 1 : i + 2] != quote:
                return i + 1, "".join(chars)
            else:
                chars.append(text[i])
                i += 2 if text[i] == quote else 1  # a doubled quote stands for one
        raise self.error(start + 1, f"unterminated string (add the closing {quote})")

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        self.pos += 1
        return self.tokens[self.pos - 1]

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind in ("ident", "punct") and tok.text.lower() in words

    def accept(self, *words: str) -> bool:
        return self.at(*words) and bool(self.advance())

    def expect(self, word: str, expected: str) -> None:
        if not self.accept(word):
            raise self.fail(expected)

    def fail(self, expected: str, tok: _Token | None = None) -> InvalidInput:
        tok = tok or self.peek()
        found = {"end": "end of input", "string": tok.text}.get(tok.kind, f"'{tok.text}'")
        return self.error(tok.column, f"expected {expected}, found {found}")

    def expect_end(self, expected: str) -> None:
        if self.peek().kind != "end":
            raise self.fail(expected)

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.accept("or"):
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.accept("and"):
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        if not self.at("not", "("):
            return self.parse_comparison()
        start = self.advance()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(start.column, "nesting is too deep")
        if start.text == "(":
            node = self.parse_or()
            self.expect(")", f"'and', 'or' or ')' to close the '(' at column {start.column}")
        else:
            node = Not(self.parse_not())
        self.depth -= 1
        return node

    def parse_field(self) -> Field:
        tok = self.advance()
        if tok.kind != "ident" or tok.text.lower() in _KEYWORDS:
            raise self.fail("a field such as metrics.acc, params.model, tags.team or status", tok)
        prefix, dot, key = tok.text.partition(".")
        kind = _PREFIXES.get(prefix.lower())
        if not dot and kind:
            raise self.fail(f"'.' and a key after '{tok.text}' (e.g. {prefix}.acc)")
        if dot and kind is None:
            hint = "use params.<key>, metrics.<key>, tags.<key> or an attribute"
            raise self.error(tok.column, f"unknown field '{tok.text}': {hint}")
        if dot and not key:
            if self.peek().kind != "string" or not self.peek().value:
                raise self.fail(f"a key after '{tok.text}' (quote odd keys: {prefix}.\"my key\")")
            key = self.advance().value
        if kind in (None, "attribute"):
            return _attribute(key if dot else tok.text, tok.column, self.what)
        return Field(kind, key, tok.column)

    def parse_value(self, after: str) -> Value:
        tok = self.peek()
        if tok.kind == "string" and tok.text[0] == "`":
            raise self.error(tok.column, "backticks quote keys; write text values in 'quotes'")
        if tok.kind in ("number", "string") or self.at("true", "false"):
            self.advance()
            value = tok.text.lower() == "true" if tok.kind == "ident" else tok.value
            return Value(value, tok.text, tok.column)
        hint = f" (quote text: '{tok.text}')" if tok.kind == "ident" else ""
        raise self.fail(f"a value after {after}: a number, 'text', true or false{hint}")

    def parse_comparison(self) -> Node:
        field = self.parse_field()
        tok = self.peek()
        values: list[Value] = []
        if tok.kind == "op":
            op = {"==": "=", "<>": "!="}.get(self.advance().text, tok.text)
            values.append(self.parse_value(f"'{tok.text}'"))
        elif self.accept("is"):
            op = "is not null" if self.accept("not") else "is null"
            self.expect("null", f"null after '{op.removesuffix(' null')}'")
        else:
            negated = self.accept("not")
            if self.accept("in"):
                op, start = "in", self.peek()
                self.expect("(", "'(' after 'in', e.g. in ('a', 'b')")
                values.append(self.parse_value("'('"))
                while self.accept(","):
                    values.append(self.parse_value("','"))
                self.expect(")", f"',' or ')' to close the list opened at column {start.column}")
            elif self.at("like", "ilike"):
                op = self.advance().text.lower()
                if self.peek().kind != "string":
                    raise self.fail(f"a quoted pattern after '{op}', e.g. '%rf%'")
                values.append(self.parse_value(f"'{op}'"))
            elif negated:
                raise self.fail("'in', 'like' or 'ilike' after 'not'")
            else:
                ops = "=, !=, <, <=, >, >=, in, like, ilike or is null"
                raise self.fail(f"an operator ({ops}) after '{field.label}'")
            op = f"not {op}" if negated else op
        return _checked(Comparison(field, op, tuple(values), tok.column))


def _attribute(name: str, column: int, what: str = "filter") -> Field:
    canonical = name.lower()
    if canonical in _ATTRIBUTES:
        return Field("attribute", canonical, column)
    msg = f"unknown attribute '{name}'"
    if close := difflib.get_close_matches(canonical, _ATTRIBUTES, n=1):
        msg += f" (did you mean '{close[0]}'?)"
    msg += f"; attributes are {', '.join(_ATTRIBUTES)}"
    raise _invalid(column, f"{msg}; for a metric, param or tag write metrics.{name} etc.", what)


def _checked(c: Comparison) -> Comparison:
    """Type-check a comparison's values against its field and normalise them (idempotent)."""
    field, op = c.field, c.op
    if field.kind == "attribute":
        kind = _ATTRIBUTES[_attribute(field.key, field.column).key][1]
    elif field.kind in ("metric", "param", "tag"):
        kind = field.kind
    else:
        raise _invalid(field.column, f"unknown field kind {field.kind!r}")
    arity = 1 if op in _SINGLE else 0 if op in _NULL_OPS else -1 if op in ("in", "not in") else 9
    if arity == 9 or (len(c.values) != arity if arity >= 0 else not c.values):
        raise _invalid(c.column, f"operator {op!r} cannot take {len(c.values)} value(s)")
    values = tuple(replace(v, value=_checked_value(kind, field.label, op, v)) for v in c.values)
    return replace(c, values=values)


def _checked_value(kind: str, label: str, op: str, v: Value) -> int | float | str | bool:
    value, col, like = v.value, v.column, op.endswith("like")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if like and not isinstance(value, str):
        raise _invalid(col, f"'{op}' needs a quoted pattern such as '%rf%'")
    if kind in ("metric", "number"):
        if kind == "number" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)  # experiment_id = '3', as MLflow writes ids
        if like or isinstance(value, str | bool):
            what = "metrics are numbers" if kind == "metric" else f"{label} is a number"
            raise _invalid(col, f"{what}, found {v.text or repr(value)}; e.g. {label} > 3")
        if math.isnan(value) and op in _ORDERING:
            raise _invalid(col, "nan can only be compared with =, != or in")
        if kind == "number" and not math.isfinite(value):
            raise _invalid(col, f"{label} is a number and needs a finite value, found {v.text}")
        if kind == "metric":  # an int would be bound as INTEGER on PostgreSQL (32 bits)
            return float(value)
        return int(value) if float(value).is_integer() else value  # integer columns
    if kind == "param":
        if isinstance(value, float) and math.isnan(value):
            raise _invalid(col, f"params compare numerically; for the text write '{v.text}'")
        if isinstance(value, bool) and op in _ORDERING:
            raise _invalid(col, f"true/false only work with =, != and in, not '{op}'")
        return float(value) if number else value
    # Text: tags, text attributes, status and the experiment name.
    if isinstance(value, bool) and kind != "tag":
        raise _invalid(col, f"{label} is text: quote the value, e.g. 'abc'")
    if number:
        if op in _ORDERING:
            raise _invalid(col, f"{label} is text: quote the value, e.g. '{v.text}'")
        value = v.text or str(value)
    if kind == "status" and isinstance(value, str):
        value = value.upper()
        if not like and value not in _STATUSES:
            shown, valid = v.text or repr(value), ", ".join(_STATUSES)
            raise _invalid(col, f"unknown status {shown}; valid statuses: {valid}")
    return value


def parse_filter(text: str) -> Node | None:
    """Parse a filter expression into a tree of :class:`Node`.

    Args:
        text: e.g. ``metrics.acc > 0.9 and params.model = 'rf'``; see ``FILTER_HELP``.

    Returns:
        The tree, or None when ``text`` is empty or whitespace (no filter).

    Raises:
        InvalidInput: malformed or ill-typed input; the message names the 1-based column.
    """
    if not text or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.parse_or()
    parser.expect_end("'and', 'or' or end of input")
    return node


def compile_filter(filter: str | Node | None) -> ColumnElement[bool] | None:
    """Translate a filter into a WHERE clause over ``schema.runs``, values bound as parameters.

    Args:
        filter: filter text, a tree from :func:`parse_filter`, or None.

    Returns:
        A clause for ``select(runs).where(clause)``, or None when there is nothing to filter.

    Raises:
        InvalidInput: malformed or ill-typed input.
    """
    node = parse_filter(filter) if isinstance(filter, str) else filter
    return None if node is None else _to_sql(node)


def _to_sql(node: Node) -> ColumnElement[bool]:
    if isinstance(node, And):
        return sa.and_(*(_to_sql(n) for n in node.operands))
    if isinstance(node, Or):
        return sa.or_(*(_to_sql(n) for n in node.operands))
    if isinstance(node, Not):
        return sa.not_(_to_sql(node.operand))
    if not isinstance(node, Comparison):
        raise InvalidInput(f"Invalid filter: expected a filter node, got {type(node).__name__}")
    c = _checked(node)
    if c.field.kind == "attribute":
        return _attribute_sql(c)
    table = {"metric": latest_metrics, "param": params, "tag": tags}[c.field.kind]
    # correlate(None): the caller may join these tables in the outer query.
    having = sa.select(table.c.run_id).where(table.c.key == c.field.key).correlate(None)
    if c.op in _NULL_OPS:
        return runs.c.id.not_in(having) if c.op == "is null" else runs.c.id.in_(having)
    cond = _metric_sql(c) if c.field.kind == "metric" else _text_sql(table, c)
    return runs.c.id.in_(having.where(cond))


def _column_sql(col: ColumnElement[Any], op: str, values: Sequence[Any]) -> ColumnElement[bool]:
    if op in ("in", "not in"):
        return col.in_(values) if op == "in" else col.not_in(values)
    if op in _NULL_OPS:
        return col.is_(None) if op == "is null" else col.is_not(None)
    if op.endswith("like"):
        like = {"like": col.like, "not like": col.not_like, "ilike": col.ilike}
        return like.get(op, col.not_ilike)(values[0])
    return _OPS[op](col, values[0])


def _metric_sql(c: Comparison) -> ColumnElement[bool]:
    # NaN only matches `= nan`: on PostgreSQL NaN sorts above every number, on SQLite it is NULL.
    value, is_nan = latest_metrics.c.value, latest_metrics.c.is_nan == sa.true()
    not_nan = latest_metrics.c.is_nan == sa.false()
    numbers = [float(v.value) for v in c.values]
    finite = [x for x in numbers if not math.isnan(x)]
    wants_nan = len(finite) < len(numbers)
    if c.op in ("=", "!=") and wants_nan:
        return is_nan if c.op == "=" else not_nan
    if c.op == "in":
        parts = [sa.and_(value.in_(finite), not_nan)] if finite else []
        return sa.or_(*parts, is_nan) if wants_nan else parts[0]
    if c.op == "not in" and not finite:
        return not_nan
    return sa.and_(_column_sql(value, c.op, finite), not_nan)


def _text_sql(table: sa.Table, c: Comparison) -> ColumnElement[bool]:
    numbers = [v.value for v in c.values if type(v.value) in (int, float)]
    texts: list[str] = []
    op = c.op
    for v in c.values:
        if isinstance(v.value, bool):
            texts.extend(_BOOL_TEXTS[v.value])
            op = {"=": "in", "!=": "not in"}.get(op, op)
        elif isinstance(v.value, str):
            texts.append(v.value)
    parts = [_column_sql(table.c.value, op, texts)] if texts else []
    if numbers:
        num = _column_sql(table.c.value_num, op, numbers)
        # A param that is not a number (value_num NULL) is != 5 and not in (1, 2).
        parts.append(sa.or_(table.c.value_num.is_(None), num) if op in _NEGATIVE else num)
    return sa.and_(*parts) if op in _NEGATIVE else sa.or_(*parts)


def _attribute_sql(c: Comparison) -> ColumnElement[bool]:
    expr, kind = _ATTRIBUTES[c.field.key]
    cond = _column_sql(expr, c.op, [v.value for v in c.values])
    if kind == "experiment":
        names = sa.select(experiments.c.id).where(cond).correlate(None)
        return runs.c.experiment_id.in_(names)
    # Keep the leaf two-valued, so that `not end_time > 5` includes the unfinished runs.
    nullable = [col for col in iterate(expr) if isinstance(col, sa.Column) and col.nullable]
    if nullable and c.op not in _NULL_OPS:
        cond = sa.and_(*(col.is_not(None) for col in nullable), cond)
    return cond


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY term: ``expr`` is NULL for runs lacking the key; ``joins`` are outer joins
    from ``runs`` (``(target, onclause)``) that ``expr`` needs."""

    expr: ColumnElement[Any]
    descending: bool = False
    joins: tuple[tuple[sa.FromClause, ColumnElement[bool]], ...] = ()
    nullable: bool = True

    def clause(self) -> ColumnElement[Any]:
        """The ``ORDER BY`` element, NULLs last in both directions."""
        ordered = self.expr.desc() if self.descending else self.expr.asc()
        return ordered.nulls_last() if self.nullable else ordered


def compile_order_by(items: Sequence[str]) -> list[OrderKey]:
    """Translate order-by items such as ``"metrics.acc DESC"``, ``"params.lr"``, ``"name"``.

    Args:
        items: ``<field> [ASC|DESC]`` strings, fields as in filters; ASC by default.

    Returns:
        The keys in order, always ending with ``runs.id`` ASC so pages are stable. A param
        yields two keys: its numeric value, then its text (non-numbers after numbers).

    Raises:
        InvalidInput: malformed item, unknown attribute or direction.
    """
    keys: list[OrderKey] = []
    for i, item in enumerate(items):
        parser = _Parser(item, f"order_by item {item!r}", "metrics.acc DESC")
        if parser.peek().kind == "end":
            raise parser.fail("a field such as metrics.acc, params.lr or start_time")
        field = parser.parse_field()
        descending = parser.at("desc")
        parser.accept("asc", "desc")
        parser.expect_end("ASC, DESC or end of item")
        keys.extend(_order_keys(field, descending, f"order_{i}"))
    return [*keys, OrderKey(runs.c.id, nullable=False)]


def _order_keys(field: Field, descending: bool, alias: str) -> list[OrderKey]:
    if field.kind == "attribute":
        expr, kind = _ATTRIBUTES[field.key]
        if kind != "experiment":
            return [OrderKey(expr, descending)]
        exp = experiments.alias(alias)
        return [OrderKey(exp.c.name, descending, ((exp, exp.c.id == runs.c.experiment_id),))]
    table = {"metric": latest_metrics, "param": params, "tag": tags}[field.kind].alias(alias)
    join = ((table, sa.and_(table.c.run_id == runs.c.id, table.c.key == field.key)),)
    if field.kind == "metric":
        # NaN sorts with the missing values, as on SQLite (where NaN is stored as NULL).
        value = sa.case((table.c.is_nan == sa.true(), sa.null()), else_=table.c.value)
        return [OrderKey(value, descending, join)]
    if field.kind == "param":
        return [OrderKey(table.c.value_num, descending, join), OrderKey(table.c.value, descending)]
    return [OrderKey(table.c.value, descending, join)]


_SelectT = TypeVar("_SelectT", bound="sa.Select[Any]")


def apply_order_by(stmt: _SelectT, items: Sequence[str]) -> _SelectT:
    """Add the outer joins and ORDER BY for ``items`` to a select over ``runs``.

    Args:
        stmt: e.g. ``select(runs).where(compile_filter(text))``.
        items: as for :func:`compile_order_by`.

    Returns:
        The statement, ordered; add ``.limit(n).offset(k)`` to paginate.
    """
    keys = compile_order_by(items)
    for key in keys:
        for target, onclause in key.joins:
            stmt = stmt.outerjoin_from(runs, target, onclause)
    return stmt.order_by(*(key.clause() for key in keys))
