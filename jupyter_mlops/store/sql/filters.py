"""Run filters and orderings (parsed by :mod:`jupyter_mlops.query`) translated to SQL.

Every comparison becomes ``runs.id IN (SELECT run_id FROM <table> WHERE key = ? AND ...)``: an
uncorrelated subquery that SQLite and PostgreSQL answer from the ``(key, value)`` indexes, so a
search never scans the metric/param/tag tables nor filters runs in Python. Every leaf is TRUE or
FALSE, never NULL, which makes ``not`` the plain complement (runs lacking the key included).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import iterate

from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.query import (
    ATTRIBUTES,
    NEGATIVE,
    NULL_OPS,
    And,
    Comparison,
    Field,
    Node,
    Not,
    Or,
    OrderItem,
    checked,
    parse_filter,
    parse_order_by,
)
from jupyter_mlops.store.sql.schema import experiments, latest_metrics, params, runs, tags

__all__ = ["OrderKey", "apply_order_by", "compile_filter", "compile_order_by"]

# Each attribute of the filter language -> its SQL expression.
_COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": runs.c.id, "run_id": runs.c.id, "name": runs.c.name, "status": runs.c.status,
    "user": runs.c.user, "experiment": experiments.c.name,
    "experiment_id": runs.c.experiment_id, "start_time": runs.c.start_time,
    "end_time": runs.c.end_time, "duration": runs.c.end_time - runs.c.start_time,
    "notebook": runs.c.notebook_path, "notebook_path": runs.c.notebook_path,
    "cell_id": runs.c.cell_id, "git_commit": runs.c.git_commit,
    "parent_run_id": runs.c.parent_run_id, "execution_count": runs.c.execution_count,
    "host": runs.c.host,
}  # fmt: skip
assert _COLUMNS.keys() == ATTRIBUTES.keys(), "every filter attribute needs a column"
# Params and tags are stored as text; Python's str(True) is 'True', JSON's is 'true'.
_BOOL_TEXTS = {True: ("True", "true", "TRUE"), False: ("False", "false", "FALSE")}
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


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
    c = checked(node)
    if c.field.kind == "attribute":
        return _attribute_sql(c)
    table = {"metric": latest_metrics, "param": params, "tag": tags}[c.field.kind]
    # correlate(None): the caller may join these tables in the outer query.
    having = sa.select(table.c.run_id).where(table.c.key == c.field.key).correlate(None)
    if c.op in NULL_OPS:
        return runs.c.id.not_in(having) if c.op == "is null" else runs.c.id.in_(having)
    cond = _metric_sql(c) if c.field.kind == "metric" else _text_sql(table, c)
    return runs.c.id.in_(having.where(cond))


def _column_sql(col: ColumnElement[Any], op: str, values: Sequence[Any]) -> ColumnElement[bool]:
    if op in ("in", "not in"):
        return col.in_(values) if op == "in" else col.not_in(values)
    if op in NULL_OPS:
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
        parts.append(sa.or_(table.c.value_num.is_(None), num) if op in NEGATIVE else num)
    return sa.and_(*parts) if op in NEGATIVE else sa.or_(*parts)


def _attribute_sql(c: Comparison) -> ColumnElement[bool]:
    expr, kind = _COLUMNS[c.field.key], ATTRIBUTES[c.field.key]
    cond = _column_sql(expr, c.op, [v.value for v in c.values])
    if kind == "experiment":
        names = sa.select(experiments.c.id).where(cond).correlate(None)
        return runs.c.experiment_id.in_(names)
    # Keep the leaf two-valued, so that `not end_time > 5` includes the unfinished runs.
    nullable = [col for col in iterate(expr) if isinstance(col, sa.Column) and col.nullable]
    if nullable and c.op not in NULL_OPS:
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


def compile_order_by(items: Sequence[str | OrderItem]) -> list[OrderKey]:
    """Translate order-by items (``"metrics.acc DESC"``, or parsed :class:`OrderItem`).

    Returns:
        The keys in order, always ending with ``runs.id`` ASC so pages are stable. A param
        yields two keys: its numeric value, then its text (non-numbers after numbers).

    Raises:
        InvalidInput: malformed item, unknown attribute or direction.
    """
    keys: list[OrderKey] = []
    for i, item in enumerate(items):
        order = parse_order_by([item])[0] if isinstance(item, str) else item
        keys.extend(_order_keys(order.field, order.descending, f"order_{i}"))
    return [*keys, OrderKey(runs.c.id, nullable=False)]


def _order_keys(field: Field, descending: bool, alias: str) -> list[OrderKey]:
    if field.kind == "attribute":
        expr, kind = _COLUMNS[field.key], ATTRIBUTES[field.key]
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


def apply_order_by(stmt: _SelectT, items: Sequence[str | OrderItem]) -> _SelectT:
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
