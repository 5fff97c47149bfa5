"""The run filter language (``metrics.acc > 0.9 and params.model = 'rf'``): grammar, parser,
type checks and help text. Pure Python, so the Client validates a filter (and the CLI shows its
help) without importing a database library; ``store/sql/runsql.py`` turns the tree into SQL.

Limits keep any input cheap and safe for every backend: at most :data:`MAX_FILTER_CHARS`
characters, :data:`MAX_COMPARISONS` comparisons and :data:`MAX_DEPTH` levels of parentheses
(SQLite refuses expression trees deeper than 1,000 and statements with too many bound values).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from jupyter_mlops.entities import RunStatus
from jupyter_mlops.exceptions import InvalidInput, shown

__all__ = [
    "ATTRIBUTES", "FILTER_HELP", "MAX_COMPARISONS", "MAX_DEPTH", "MAX_FILTER_CHARS",
    "MAX_ORDER_ITEMS", "NULL_OPS", "And", "Comparison", "Field", "Node", "Not", "Or",
    "OrderItem", "Value", "checked", "parse_filter", "parse_order_by",
]  # fmt: skip

# Run attributes a filter can name -> the kind of value they hold: "text", "number", "status"
# (compared upper-case) or "experiment" (compared through the experiment's name).
ATTRIBUTES: dict[str, str] = {
    "id": "text", "run_id": "text", "name": "text", "status": "status", "user": "text",
    "experiment": "experiment", "experiment_id": "number", "start_time": "number",
    "end_time": "number", "duration": "number", "notebook": "text", "notebook_path": "text",
    "cell_id": "text", "git_commit": "text", "parent_run_id": "text",
    "execution_count": "number", "host": "text",
}  # fmt: skip
MAX_FILTER_CHARS = 10_000
MAX_COMPARISONS = 200
MAX_ORDER_ITEMS = 10

_PREFIXES = {
    "params": "param", "param": "param", "metrics": "metric", "metric": "metric",
    "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
}  # fmt: skip
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
_STATUSES = tuple(s.value for s in RunStatus)
ORDERING = ("<", "<=", ">", ">=")
_SINGLE = ("=", "!=", *ORDERING, "like", "not like", "ilike", "not ilike")
NULL_OPS = ("is null", "is not null")
NEGATIVE = ("!=", "not in", "not like", "not ilike")
_EXAMPLE = "metrics.acc > 0.9 and params.model = 'rf'"
MAX_DEPTH = 100  # nesting of parentheses / not; deeper input would hit Python's recursion limit

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
Attributes: {", ".join(ATTRIBUTES)}.
Times are epoch milliseconds; duration is end_time - start_time in ms; experiment is its name.
Example: metrics.acc > 0.9 and (params.model = 'rf' or tags.stage in ('prod', 'staging'))
Order by: "metrics.acc DESC", "params.lr", "start_time ASC" (runs lacking the key come last).
Limits: {MAX_FILTER_CHARS:,} characters, {MAX_COMPARISONS} compared values, {MAX_DEPTH} levels of
nesting."""


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
    | (?P<ident>(?u:[^\W\d][\w\-./:]*))""",
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
        if self.depth > MAX_DEPTH:
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
        return checked(Comparison(field, op, tuple(values), tok.column))


def _attribute(name: str, column: int, what: str = "filter") -> Field:
    canonical = name.lower()
    if canonical in ATTRIBUTES:
        return Field("attribute", canonical, column)
    msg = f"unknown attribute '{name}'"
    if close := difflib.get_close_matches(canonical, ATTRIBUTES, n=1):
        msg += f" (did you mean '{close[0]}'?)"
    msg += f"; attributes are {', '.join(ATTRIBUTES)}"
    raise _invalid(column, f"{msg}; for a metric, param or tag write metrics.{name} etc.", what)


def checked(c: Comparison) -> Comparison:
    """Type-check a comparison's values against its field and normalise them (idempotent)."""
    field, op = c.field, c.op
    if field.kind == "attribute":
        kind = ATTRIBUTES[_attribute(field.key, field.column).key]
    elif field.kind in ("metric", "param", "tag"):
        kind = field.kind
    else:
        raise _invalid(field.column, f"unknown field kind {field.kind!r}")
    arity = 1 if op in _SINGLE else 0 if op in NULL_OPS else -1 if op in ("in", "not in") else 9
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
        if math.isnan(value) and op in ORDERING:
            raise _invalid(col, "nan can only be compared with =, != or in")
        if kind == "number" and not math.isfinite(value):
            raise _invalid(col, f"{label} is a number and needs a finite value, found {v.text}")
        if kind == "metric":  # an int would be bound as INTEGER on PostgreSQL (32 bits)
            return float(value)
        # Integer columns take an integer; one beyond 64 bits stays a float, which both
        # databases compare with their BIGINT (no driver binds a larger integer).
        whole = float(value).is_integer() and -(2**63) <= value < 2**63
        return int(value) if whole else float(value)
    if kind == "param":
        if isinstance(value, float) and math.isnan(value):
            raise _invalid(col, f"params compare numerically; for the text write '{v.text}'")
        if isinstance(value, bool) and op in ORDERING:
            raise _invalid(col, f"true/false only work with =, != and in, not '{op}'")
        return float(value) if number else value
    # Text: tags, text attributes, status and the experiment name.
    if isinstance(value, bool) and kind != "tag":
        raise _invalid(col, f"{label} is text: quote the value, e.g. 'abc'")
    if number:
        if op in ORDERING:
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
        InvalidInput: malformed or ill-typed input, or beyond the limits; the message names
            the 1-based column.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"A filter is text, got {type(text).__name__}.")
    if not text or not text.strip():
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(
            f"The filter is {len(text):,} characters long; at most {MAX_FILTER_CHARS:,} are "
            "accepted. Split the search, or filter on fewer values."
        )
    parser = _Parser(text)
    node = parser.parse_or()
    parser.expect_end("'and', 'or' or end of input")
    count = _comparisons(node)
    if count > MAX_COMPARISONS:
        raise InvalidInput(
            f"The filter has {count} comparisons; at most {MAX_COMPARISONS} are accepted."
        )
    return node


def _comparisons(node: Node) -> int:
    if isinstance(node, Comparison):
        return max(1, len(node.values))
    if isinstance(node, Not):
        return _comparisons(node.operand)
    return sum(_comparisons(n) for n in node.operands)


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` item: a field and its direction."""

    field: Field
    descending: bool = False


def parse_order_by(items: Sequence[str]) -> list[OrderItem]:
    """Parse order-by items such as ``"metrics.acc DESC"``, ``"params.lr"``, ``"name"``.

    Raises:
        InvalidInput: a malformed item, an unknown attribute or direction, or too many items.
    """
    if len(items) > MAX_ORDER_ITEMS:
        raise InvalidInput(f"At most {MAX_ORDER_ITEMS} order_by items, got {len(items)}.")
    out: list[OrderItem] = []
    for item in items:
        if not isinstance(item, str) or len(item) > 1_000:
            raise InvalidInput(f"Invalid order_by item {shown(item)}: e.g. 'metrics.acc DESC'.")
        parser = _Parser(item, f"order_by item {shown(item)}", "metrics.acc DESC")
        if parser.peek().kind == "end":
            raise parser.fail("a field such as metrics.acc, params.lr or start_time")
        field = parser.parse_field()
        descending = parser.at("desc")
        parser.accept("asc", "desc")
        parser.expect_end("ASC, DESC or end of item")
        out.append(OrderItem(field, descending))
    return out
