"""Run searches as SQL text, one text for SQLite and PostgreSQL, run by either executor.

The filter language (parsed by :mod:`jupyter_mlops.query`) becomes a WHERE clause where every
comparison is ``runs.id IN (SELECT run_id FROM <table> WHERE "key" = ? AND ...)``: an
uncorrelated subquery that both databases answer from the ``(key, value)`` indexes, so a search
never scans the metric/param/tag tables nor filters runs in Python. Every leaf is TRUE or FALSE,
never NULL, which makes ``not`` the plain complement (runs lacking the key included).

Nothing here imports SQLAlchemy: :class:`RunQueries` takes a function that executes text with
``?`` placeholders, :meth:`.records.Db.rows` of either executor: the SQL store's connection
(any backend) or plain ``sqlite3`` (:mod:`.lite`), so that a process that only lists runs of
a SQLite file (``jupyter-mlops runs list``) never loads SQLAlchemy, whose import alone is most
of such a process's time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from ...entities import Experiment, Run, RunInfo
from ...exceptions import InvalidInput, NotFound, shown
from ...query import (
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
from ..base import RunPage

# The schema revision this code reads and writes (migrations/versions/<HEAD>_*.py).
HEAD = "0009"
# SQLite caps bound parameters per statement; chunk IN (...) lists below it.
IN_CHUNK = 500

Execute = Callable[[str, Sequence[Any]], list[Sequence[Any]]]
Fragment = tuple[str, list[Any]]

# A run's columns as RunInfo has them (the runs table also holds the heartbeat, the
# process' start time and the environment, which a listing does not read).
INFO_COLUMNS = tuple(f.name for f in fields(RunInfo) if f.name != "experiment_name")
_SELECT_INFO = ", ".join(f'runs."{c}"' for c in INFO_COLUMNS)
# Each attribute of the filter language -> its SQL expression and the nullable columns in it.
ATTRIBUTE_SQL: dict[str, tuple[str, tuple[str, ...]]] = {
    "id": ("runs.id", ()), "run_id": ("runs.id", ()), "name": ("runs.name", ()),
    "status": ("runs.status", ()), "user": ('runs."user"', ()),
    "experiment": ("experiments.name", ()), "experiment_id": ("runs.experiment_id", ()),
    "start_time": ("runs.start_time", ()), "end_time": ("runs.end_time", ("runs.end_time",)),
    "duration": ("runs.end_time - runs.start_time", ("runs.end_time",)),
    "notebook": ("runs.notebook_path", ("runs.notebook_path",)),
    "notebook_path": ("runs.notebook_path", ("runs.notebook_path",)),
    "cell_id": ("runs.cell_id", ("runs.cell_id",)),
    "git_commit": ("runs.git_commit", ("runs.git_commit",)),
    "parent_run_id": ("runs.parent_run_id", ("runs.parent_run_id",)),
    "execution_count": ("runs.execution_count", ("runs.execution_count",)),
    "host": ("runs.host", ("runs.host",)),
}  # fmt: skip
assert ATTRIBUTE_SQL.keys() == ATTRIBUTES.keys(), "every filter attribute needs a column"
_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
# Params and tags are stored as text; Python's str(True) is 'True', JSON's is 'true'.
_BOOL_TEXTS = {True: ("True", "true", "TRUE"), False: ("False", "false", "FALSE")}
_COMPARE = ("=", "!=", "<", "<=", ">", ">=")
_NEWEST_FIRST = [OrderItem(Field("attribute", "start_time"), descending=True)]


def chunks(seq: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def placeholders(n: int) -> str:
    return ", ".join("?" * n)


def metric_value(value: float | None, is_nan: bool) -> float:
    """A stored latest value as a float (SQLite keeps NaN as NULL, hence ``is_nan``)."""
    return math.nan if is_nan or value is None else value


class RunningRun(NamedTuple):
    id: str
    heartbeat: int
    host: str | None
    pid: int | None
    pid_start: int | None


# Filters ---------------------------------------------------------------------------------
def compile_filter(filter: str | Node | None) -> Fragment | None:
    """Translate a filter into a WHERE condition over ``runs``, values as ``?`` parameters.

    Args:
        filter: filter text, a tree from :func:`parse_filter`, or None.

    Returns:
        ``(sql, params)``, or None when there is nothing to filter.

    Raises:
        InvalidInput: malformed or ill-typed input.
    """
    node = parse_filter(filter) if isinstance(filter, str) else filter
    return None if node is None else _to_sql(node)


def _joined(parts: list[Fragment], op: str) -> Fragment:
    if len(parts) == 1:
        return parts[0]
    return f"({f' {op} '.join(p[0] for p in parts)})", [v for p in parts for v in p[1]]


def _to_sql(node: Node) -> Fragment:
    if isinstance(node, And):
        return _joined([_to_sql(n) for n in node.operands], "AND")
    if isinstance(node, Or):
        return _joined([_to_sql(n) for n in node.operands], "OR")
    if isinstance(node, Not):
        sql, params = _to_sql(node.operand)
        return f"NOT ({sql})", params
    if not isinstance(node, Comparison):
        raise InvalidInput(f"Invalid filter: expected a filter node, got {type(node).__name__}")
    c = checked(node)
    if c.field.kind == "attribute":
        return _attribute_sql(c)
    table = _TABLES[c.field.kind]
    having = f'SELECT {table}.run_id FROM {table} WHERE {table}."key" = ?'
    if c.op in NULL_OPS:
        negate = "NOT " if c.op == "is null" else ""
        return f"runs.id {negate}IN ({having})", [c.field.key]
    cond, params = _metric_sql(c) if c.field.kind == "metric" else _text_sql(table, c)
    return f"runs.id IN ({having} AND {cond})", [c.field.key, *params]


def _column_sql(col: str, op: str, values: Sequence[Any]) -> Fragment:
    if op in ("in", "not in"):
        if not values:  # nothing is in an empty list
            return ("1 = 0" if op == "in" else "1 = 1"), []
        return f"{col} {op.upper()} ({placeholders(len(values))})", list(values)
    if op in NULL_OPS:
        return f"{col} {op.upper()}", []
    if op in ("ilike", "not ilike"):
        negate = "NOT " if op == "not ilike" else ""
        return f"lower({col}) {negate}LIKE lower(?)", [values[0]]
    if op in ("like", "not like"):
        return f"{col} {op.upper()} ?", [values[0]]
    if op not in _COMPARE:
        raise InvalidInput(f"Invalid filter: unknown operator {op!r}")
    return f"{col} {op} ?", [values[0]]


def _metric_sql(c: Comparison) -> Fragment:
    # NaN only matches `= nan`: on PostgreSQL NaN sorts above every number, on SQLite it is NULL.
    value, is_nan = "latest_metrics.value", "latest_metrics.is_nan = true"
    not_nan = "latest_metrics.is_nan = false"
    numbers = [float(v.value) for v in c.values]
    finite = [x for x in numbers if not math.isnan(x)]
    wants_nan = len(finite) < len(numbers)
    if c.op in ("=", "!=") and wants_nan:
        return (is_nan if c.op == "=" else not_nan), []
    if c.op == "in":
        parts = []
        if finite:
            sql, params = _column_sql(value, "in", finite)
            parts.append((f"({sql} AND {not_nan})", params))
        if wants_nan:
            parts.append((is_nan, []))
        return _joined(parts, "OR")
    if c.op == "not in" and not finite:
        return not_nan, []
    sql, params = _column_sql(value, c.op, finite)
    return f"({sql} AND {not_nan})", params


def _text_sql(table: str, c: Comparison) -> Fragment:
    numbers = [v.value for v in c.values if type(v.value) in (int, float)]
    texts: list[str] = []
    op = c.op
    for v in c.values:
        if isinstance(v.value, bool):
            texts.extend(_BOOL_TEXTS[v.value])
            op = {"=": "in", "!=": "not in"}.get(op, op)
        elif isinstance(v.value, str):
            texts.append(v.value)
    parts = [_column_sql(f"{table}.value", op, texts)] if texts else []
    if numbers:
        num_sql, num_params = _column_sql(f"{table}.value_num", op, numbers)
        # A param that is not a number (value_num NULL) is != 5 and not in (1, 2).
        if op in NEGATIVE:
            num_sql = f"({table}.value_num IS NULL OR {num_sql})"
        parts.append((num_sql, num_params))
    return _joined(parts, "AND" if op in NEGATIVE else "OR")


def _attribute_sql(c: Comparison) -> Fragment:
    expr, nullable = ATTRIBUTE_SQL[c.field.key]
    sql, params = _column_sql(expr, c.op, [v.value for v in c.values])
    if ATTRIBUTES[c.field.key] == "experiment":
        return f"runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE {sql})", params
    # Keep the leaf two-valued, so that `not end_time > 5` includes the unfinished runs.
    if nullable and c.op not in NULL_OPS:
        sql = f"({' AND '.join(f'{col} IS NOT NULL' for col in nullable)} AND {sql})"
    return sql, params


# Ordering --------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY term: ``expr`` is NULL for runs lacking the key; ``join`` is the outer
    join from ``runs`` (with its parameters) that ``expr`` needs."""

    expr: str
    descending: bool = False
    join: Fragment | None = None
    nullable: bool = True

    def clause(self) -> str:
        """The ``ORDER BY`` element, NULLs last in both directions."""
        ordered = f"{self.expr} {'DESC' if self.descending else 'ASC'}"
        return f"{ordered} NULLS LAST" if self.nullable else ordered


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
    return [*keys, OrderKey("runs.id", nullable=False)]


def _order_keys(field: Field, descending: bool, alias: str) -> list[OrderKey]:
    if field.kind == "attribute":
        expr = ATTRIBUTE_SQL[field.key][0]
        if ATTRIBUTES[field.key] != "experiment":
            return [OrderKey(expr, descending)]
        on_experiment = f"LEFT OUTER JOIN experiments AS {alias} ON {alias}.id = runs.experiment_id"
        return [OrderKey(f"{alias}.name", descending, (on_experiment, []))]
    join: Fragment = (
        f"LEFT OUTER JOIN {_TABLES[field.kind]} AS {alias} "
        f'ON {alias}.run_id = runs.id AND {alias}."key" = ?',
        [field.key],
    )
    if field.kind == "metric":
        # NaN sorts with the missing values, as on SQLite (where NaN is stored as NULL).
        value = f"CASE WHEN {alias}.is_nan = true THEN NULL ELSE {alias}.value END"
        return [OrderKey(value, descending, join)]
    if field.kind == "param":
        return [
            OrderKey(f"{alias}.value_num", descending, join),
            OrderKey(f"{alias}.value", descending),
        ]
    return [OrderKey(f"{alias}.value", descending, join)]


def select_runs(
    columns: str,
    where: Sequence[Fragment],
    order_by: Sequence[str | OrderItem],
    limit: int | None = None,
    offset: int = 0,
) -> Fragment:
    """``SELECT columns FROM runs`` with the outer joins and ORDER BY of ``order_by``, the
    conditions of ``where`` (all of them) and the page."""
    keys = compile_order_by(order_by)
    joins = [key.join for key in keys if key.join is not None]
    sql = f"SELECT {columns} FROM runs"
    params: list[Any] = []
    for join_sql, join_params in joins:
        sql += f" {join_sql}"
        params += join_params
    where_sql, where_params = where_clause(where)
    sql += where_sql + " ORDER BY " + ", ".join(key.clause() for key in keys)
    params += where_params
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return sql, params


def where_clause(conditions: Sequence[Fragment]) -> Fragment:
    """`` WHERE a AND b`` of all the conditions (nothing when there are none)."""
    if not conditions:
        return "", []
    sql = " WHERE " + " AND ".join(c[0] for c in conditions)
    return sql, [v for c in conditions for v in c[1]]


def experiment_of(row: Mapping[Any, Any], run_count: int = 0) -> Experiment:
    """An Experiment from its row (``id, name, created_at, description``)."""
    return Experiment(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        description=row["description"] or "",
        run_count=run_count,
    )


# The reads ------------------------------------------------------------------------------
class RunQueries:
    """Experiments by name, searches of runs, and the runs still RUNNING, on ``execute``
    (one transaction's)."""

    def __init__(self, execute: Execute) -> None:
        self.execute = execute

    def experiment_named(self, name: str) -> Experiment | None:
        columns = ("id", "name", "created_at", "description")
        rows = self.execute(f"SELECT {', '.join(columns)} FROM experiments WHERE name = ?", [name])
        return experiment_of(dict(zip(columns, rows[0], strict=True))) if rows else None

    def get_experiment_by_name(self, name: str) -> Experiment:
        found = self.experiment_named(name)
        if found is None:
            names = sorted(r[0] for r in self.execute("SELECT name FROM experiments", []))
            known = ", ".join(names[:50]) or "none yet"
            raise NotFound(f"No experiment named {shown(name)}. Known experiments: {known}.")
        return found

    def running_runs(self) -> list[RunningRun]:
        rows = self.execute(
            "SELECT id, heartbeat, host, pid, pid_start FROM runs WHERE status = 'RUNNING'", []
        )
        return [RunningRun(*r) for r in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None,
        filter: Node | None,
        order_by: Sequence[OrderItem],
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> RunPage:
        # (in one read transaction, the executor's: the page, its params and the total
        # come from one state)
        return self._search(experiment_ids, filter, order_by, limit, offset, with_total)

    def _search(
        self,
        experiment_ids: Sequence[int] | None,
        filter: Node | None,
        order_by: Sequence[OrderItem],
        limit: int,
        offset: int,
        with_total: bool,
    ) -> RunPage:
        where: list[Fragment] = []
        if experiment_ids is not None:
            where.append(self._experiment_clause(list(experiment_ids)))
        clause = compile_filter(filter)
        if clause is not None:
            where.append(clause)
        sql, params = select_runs(
            _SELECT_INFO, where, list(order_by) or _NEWEST_FIRST, limit, offset
        )
        names = self.experiment_names()
        page = [
            Run(info=run_info(dict(zip(INFO_COLUMNS, r, strict=True)), names))
            for r in self.execute(sql, params)
        ]
        self.attach({run.id: run for run in page})
        total = len(page) + offset
        if with_total and (len(page) == limit or offset):
            where_sql, where_params = where_clause(where)
            rows = self.execute("SELECT count(*) FROM runs" + where_sql, where_params)
            total = int(rows[0][0])
        return RunPage(runs=page, total=total, offset=offset, limit=limit)

    def experiment_names(self) -> dict[int, str]:
        return {r[0]: r[1] for r in self.execute("SELECT id, name FROM experiments", [])}

    def _experiment_clause(self, ids: list[int]) -> Fragment:
        """Restrict to experiments without steering the planner onto the experiment index.

        Without statistics SQLite takes ``experiment_id IN (...)`` as very selective, reads
        every run of those experiments and sorts them. Naming every experiment is no
        restriction at all; for a few of many, ``+ 0`` keeps the predicate but leaves the
        choice of index to the sort and the filter. One experiment keeps its index, which
        serves ``ORDER BY start_time`` directly.
        """
        if len(ids) == 1:
            return "runs.experiment_id = ?", [ids[0]]
        known = {r[0] for r in self.execute("SELECT id FROM experiments", [])}
        if known <= set(ids):
            return "1 = 1", []
        return f"runs.experiment_id + 0 IN ({placeholders(len(ids))})", list(ids)

    def attach(self, by_id: dict[str, Run]) -> None:
        """Fill params, latest metrics and tags of many runs with three queries a chunk."""
        ids = list(by_id)
        for chunk in chunks(ids):
            marks = placeholders(len(chunk))
            for run_id, key, value in self.execute(
                f'SELECT run_id, "key", value FROM params WHERE run_id IN ({marks})', chunk
            ):
                by_id[run_id].params[key] = value
            latest = (
                f'SELECT run_id, "key", value, is_nan FROM latest_metrics WHERE run_id IN ({marks})'
            )
            for run_id, key, value, is_nan in self.execute(latest, chunk):
                by_id[run_id].metrics[key] = metric_value(value, is_nan)
            for run_id, key, value in self.execute(
                f'SELECT run_id, "key", value FROM tags WHERE run_id IN ({marks})', chunk
            ):
                by_id[run_id].tags[key] = value


def run_info(row: Mapping[str, Any], exp_names: dict[int, str]) -> RunInfo:
    """A run's RunInfo from its row (the columns of :data:`INFO_COLUMNS`, others ignored)."""
    data = {c: row[c] for c in INFO_COLUMNS}
    if data["git_dirty"] is not None:
        data["git_dirty"] = bool(data["git_dirty"])  # SQLite keeps booleans as 0 and 1
    return RunInfo(experiment_name=exp_names.get(data["experiment_id"], ""), **data)
