"""The run filter language: parsing, error messages, SQL semantics and query plans."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.query import (
    ATTRIBUTES,
    FILTER_HELP,
    And,
    Comparison,
    Field,
    Node,
    Not,
    Or,
    Value,
    parse_filter,
)
from jupyter_mlops.store.sql import schema
from jupyter_mlops.store.sql.base import ConnectionDb
from jupyter_mlops.store.sql.runsql import (
    ATTRIBUTE_SQL,
    INFO_COLUMNS,
    compile_filter,
    compile_order_by,
    select_runs,
)

NAN, INF = float("nan"), float("inf")
ALL = {"r1", "r2", "r3", "r4", "r5"}


EXPERIMENTS = [
    {"id": 1, "name": "churn", "created_at": 0},
    {"id": 2, "name": "vision", "created_at": 0},
]
_RUN = {"heartbeat": 0, "end_time": None, "parent_run_id": None, "notebook_path": None,
        "execution_count": None, "git_commit": None, "host": None}  # fmt: skip
RUNS = [
    _RUN | dict(id="r1", experiment_id=1, name="rf-baseline", status="FINISHED", start_time=1000,
                end_time=5000, user="alice", host="h1", notebook_path="a.ipynb",
                execution_count=3, git_commit="abc"),
    _RUN | dict(id="r2", experiment_id=1, name="rf-tuned", status="FINISHED", start_time=2000,
                end_time=3000, user="bob", parent_run_id="r1"),
    _RUN | dict(id="r3", experiment_id=1, name="xgb", status="FAILED", start_time=3000,
                end_time=10000, user="alice"),
    _RUN | dict(id="r4", experiment_id=2, name="cnn", status="RUNNING", start_time=4000,
                user="carol"),
    _RUN | dict(id="r5", experiment_id=2, name="cnn-2", status="KILLED", start_time=5000,
                end_time=5500, user="bob"),
]  # fmt: skip
PARAMS = [
    ("r1", "model", "rf", None), ("r1", "n", "10", 10.0), ("r1", "lr", "0.1", 0.1),
    ("r1", "max depth", "5", 5.0),
    ("r2", "model", "rf", None), ("r2", "n", "9", 9.0), ("r2", "lr", "0.01", 0.01),
    ("r2", "flag", "True", None),
    ("r3", "model", "xgb", None), ("r3", "n", "100", 100.0), ("r3", "lr", "auto", None),
    ("r3", "flag", "false", None),
    ("r4", "model", "cnn", None), ("r4", "n", "abc", None),
]  # fmt: skip
METRICS = [
    ("r1", "acc", 0.95), ("r1", "loss", 0.1), ("r2", "acc", 0.91), ("r2", "loss", INF),
    ("r3", "acc", 0.5), ("r3", "loss", NAN), ("r4", "loss", 0.3),
]  # fmt: skip
TAGS = [
    ("r1", "team", "vision"), ("r1", "release note", "first one"), ("r1", "stage", "prod"),
    ("r2", "team", "Vision"), ("r2", "stage", "staging"), ("r3", "team", "nlp"),
    ("r3", "note", "it's"), ("r4", "team", "vision"), ("r4", "done", "true"),
]  # fmt: skip


def insert_runs(engine: sa.Engine) -> None:
    """Five runs in two experiments; r5 has no params, metrics or tags at all."""
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.experiments.insert(), EXPERIMENTS)
        conn.execute(schema.runs.insert(), RUNS)
        conn.execute(
            schema.params.insert(),
            [{"run_id": r, "key": k, "value": v, "value_num": n} for r, k, v, n in PARAMS],
        )
        conn.execute(
            schema.latest_metrics.insert(),
            [
                {"run_id": r, "key": k, "value": v, "is_nan": v != v, "step": 0, "timestamp": 0}
                for r, k, v in METRICS
            ],
        )
        conn.execute(
            schema.tags.insert(), [{"run_id": r, "key": k, "value": v} for r, k, v in TAGS]
        )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """The same runs on SQLite and, with JUPYTER_MLOPS_TEST_PG set, in a throwaway PG schema."""
    if request.param == "sqlite":
        engine = sa.create_engine("sqlite://")
        insert_runs(engine)
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    name = f"test_filters_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={name}"})
    try:
        insert_runs(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def ordered_ids(
    engine: sa.Engine,
    items: list[str],
    text: str | Node = "",
    limit: int | None = None,
    offset: int = 0,
) -> list[str]:
    """The ids of the runs matching ``text``, in the order of ``items``, through the same
    executor as the store (the driver's own parameter style)."""
    clause = compile_filter(text)
    sql, params = select_runs("runs.id", [clause] if clause else [], items, limit, offset)
    assert sql.count("?") == len(params), sql
    with engine.connect() as conn:
        return [row[0] for row in ConnectionDb(conn).rows(sql, params)]


def run_ids(engine: sa.Engine, text: str | Node) -> set[str]:
    return set(ordered_ids(engine, [], text))


MATCHES = [
    # metrics: every operator; missing keys and NaN never match a comparison
    ("metrics.acc > 0.9", {"r1", "r2"}),
    ("metrics.acc >= 0.95", {"r1"}),
    ("metrics.acc < 0.9", {"r3"}),
    ("metrics.acc <= 0.91", {"r2", "r3"}),
    ("metrics.acc = 0.5", {"r3"}),
    ("metrics.acc == 0.5", {"r3"}),
    ("metrics.acc != 0.5", {"r1", "r2"}),
    ("metrics.acc <> 0.5", {"r1", "r2"}),
    ("metrics.acc > 9e-1", {"r1", "r2"}),
    ("metrics.acc > 1", set()),
    ("metric.acc>0.9", {"r1", "r2"}),
    ("metrics.loss = nan", {"r3"}),
    ("metrics.loss != nan", {"r1", "r2", "r4"}),
    ("metrics.loss > 1", {"r2"}),
    ("metrics.loss = inf", {"r2"}),
    ("metrics.loss < inf", {"r1", "r4"}),
    ("metrics.loss > -inf", {"r1", "r2", "r4"}),
    ("metrics.loss in (0.1, nan)", {"r1", "r3"}),
    ("metrics.loss in (0.3)", {"r4"}),
    ("metrics.loss not in (0.1, 0.3)", {"r2"}),
    ("metrics.acc is null", {"r4", "r5"}),
    ("metrics.acc is not null", {"r1", "r2", "r3"}),
    ("not metrics.acc > 0.9", {"r3", "r4", "r5"}),
    # params: numbers compare value_num, quoted values compare the text
    ("params.n > 9", {"r1", "r3"}),
    ("params.n >= 9", {"r1", "r2", "r3"}),
    ("params.n = 10", {"r1"}),
    ("params.n = 1e1", {"r1"}),
    ("params.n = '10'", {"r1"}),
    ("params.n < '9'", {"r1", "r3"}),
    ("params.n != 10", {"r2", "r3", "r4"}),
    ("params.lr < 0.05", {"r2"}),
    ("params.model = 'rf'", {"r1", "r2"}),
    ('params.model = "rf"', {"r1", "r2"}),
    ("params.model != 'rf'", {"r3", "r4"}),
    ("params.model in ('rf', 'xgb')", {"r1", "r2", "r3"}),
    ("params.model not in ('rf')", {"r3", "r4"}),
    ("params.n in (9, 'abc')", {"r2", "r4"}),
    ("params.n not in (9, 'abc')", {"r1", "r3"}),
    ("params.model like 'r%'", {"r1", "r2"}),
    ("params.model not like 'r%'", {"r3", "r4"}),
    ("params.model ilike 'R_'", {"r1", "r2"}),
    ("params.model not ilike 'R%'", {"r3", "r4"}),
    ("params.lr is null", {"r4", "r5"}),
    ("params.lr is not null", {"r1", "r2", "r3"}),
    ("not params.lr is null", {"r1", "r2", "r3"}),
    ('params."max depth" = 5', {"r1"}),
    ("params.`max depth` >= 5", {"r1"}),
    ("param.model = 'xgb'", {"r3"}),
    ("params.flag = true", {"r2"}),
    ("params.flag = false", {"r3"}),
    ("params.flag != true", {"r3"}),
    # tags are text
    ("tags.team = 'vision'", {"r1", "r4"}),
    ("tags.team != 'vision'", {"r2", "r3"}),
    ("tags.team ilike 'VISION'", {"r1", "r2", "r4"}),
    ("tags.stage in ('prod', 'staging')", {"r1", "r2"}),
    ("tags.stage not in ('prod')", {"r2"}),
    ("tags.team like '%i%'", {"r1", "r2", "r4"}),
    ("tags.\"release note\" = 'first one'", {"r1"}),
    ("tags.note = 'it''s'", {"r3"}),
    ("tags.note = 'it\\'s'", {"r3"}),
    ('tags.note = "it\'s"', {"r3"}),
    ("tags.done = true", {"r4"}),
    ("tag.team is null", {"r5"}),
    # attributes
    ("status = 'failed'", {"r3"}),
    ("status = 'FINISHED'", {"r1", "r2"}),
    ("STATUS = 'Finished'", {"r1", "r2"}),
    ("status != 'finished'", {"r3", "r4", "r5"}),
    ("status in ('running', 'Killed')", {"r4", "r5"}),
    ("status like 'fin%'", {"r1", "r2"}),
    ("attributes.status = 'failed'", {"r3"}),
    ("attribute.name = 'xgb'", {"r3"}),
    ("name like 'rf%'", {"r1", "r2"}),
    ("name > 'rf'", {"r1", "r2", "r3"}),
    ("experiment = 'vision'", {"r4", "r5"}),
    ("experiment != 'vision'", {"r1", "r2", "r3"}),
    ("experiment in ('churn', 'nope')", {"r1", "r2", "r3"}),
    ("experiment_id = 1", {"r1", "r2", "r3"}),
    ("experiment_id = '2'", {"r4", "r5"}),
    ("start_time >= 3000", {"r3", "r4", "r5"}),
    # integers beyond 64 bits (no driver binds them) compare as floats
    ("start_time < 99999999999999999999999", ALL),
    ("start_time > 1e30 or end_time = -1e300", set()),
    ("experiment_id in (2, 99999999999999999999999)", {"r4", "r5"}),
    ("not duration >= 9223372036854775808", {"r1", "r2", "r3", "r4", "r5"}),
    ("end_time is null", {"r4"}),
    ("end_time < 5000", {"r2"}),
    ("duration > 3000", {"r1", "r3"}),
    ("duration <= 1000", {"r2", "r5"}),
    ("not duration > 3000", {"r2", "r4", "r5"}),
    ("user = 'alice'", {"r1", "r3"}),
    ("id = 'r3'", {"r3"}),
    ("run_id in ('r1', 'r5')", {"r1", "r5"}),
    ("parent_run_id = 'r1'", {"r2"}),
    ("not parent_run_id = 'r1'", {"r1", "r3", "r4", "r5"}),
    ("parent_run_id != 'r1'", set()),
    ("notebook = 'a.ipynb'", {"r1"}),
    ("notebook_path is not null", {"r1"}),
    ("execution_count > 2", {"r1"}),
    ("host = 'h1'", {"r1"}),
    ("git_commit = 'abc'", {"r1"}),
    ("cell_id is null", ALL),
    # boolean structure
    ("metrics.acc > 0.9 and params.model = 'rf'", {"r1", "r2"}),
    ("params.model = 'xgb' or metrics.acc > 0.9 and params.n = 10", {"r1", "r3"}),
    ("(params.model = 'xgb' or metrics.acc > 0.9) and params.n = 10", {"r1"}),
    ("not (status = 'finished' or status = 'failed')", {"r4", "r5"}),
    ("not not status = 'failed'", {"r3"}),
    ("not status = 'failed' and user = 'alice'", {"r1"}),
    ("((status = 'failed'))", {"r3"}),
    ("METRICS.acc > 0.9 AND Params.model = 'rf' Or TAGS.team = 'nlp'", {"r1", "r2", "r3"}),
    ("metrics.Acc > 0", set()),
    ("", ALL),
    ("   ", ALL),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES, ids=[m[0] or "empty" for m in MATCHES])
def test_given_runs_when_filtering_then_the_matching_run_ids_are_returned(
    engine: sa.Engine, text: str, expected: set[str]
) -> None:
    assert run_ids(engine, text) == expected


@pytest.mark.parametrize(("text", "expected"), MATCHES, ids=[m[0] or "empty" for m in MATCHES])
def test_given_a_filter_when_negated_then_it_returns_exactly_the_other_runs(
    engine: sa.Engine, text: str, expected: set[str]
) -> None:
    if text.strip():
        assert run_ids(engine, f"not ({text})") == ALL - expected


def test_given_and_or_without_parentheses_when_parsed_then_and_binds_tighter() -> None:
    node = parse_filter("params.a = 1 or params.b = 2 and not params.c = 3")
    assert isinstance(node, Or)
    first, second = node.operands
    assert isinstance(first, Comparison) and first.field == Field("param", "a", 1)
    assert isinstance(second, And) and isinstance(second.operands[1], Not)


def test_given_blank_text_when_parsed_then_there_is_no_filter() -> None:
    assert parse_filter("") is None
    assert parse_filter(" \n\t") is None
    assert compile_filter(None) is None


def test_given_a_hand_built_tree_when_compiled_then_values_are_checked(engine: sa.Engine) -> None:
    node = Or((Comparison(Field("attribute", "status"), "=", (Value("failed"),)),
               Comparison(Field("metric", "acc"), ">", (Value(0.92),))))  # fmt: skip
    assert run_ids(engine, node) == {"r1", "r3"}
    with pytest.raises(InvalidInput, match="metrics are numbers"):
        compile_filter(Comparison(Field("metric", "acc"), ">", (Value("high"),)))
    with pytest.raises(InvalidInput, match="unknown attribute"):
        compile_filter(Comparison(Field("attribute", "colour"), "=", (Value("x"),)))


MALFORMED = [
    ("metrics.acc >", 14, "expected a value after '>'.*found end of input"),
    ("metrics.acc > 'x'", 15, "metrics are numbers"),
    ("metrics.acc like 'x%'", 18, "metrics are numbers"),
    ("metrics.acc > true", 15, "metrics are numbers"),
    ("metrics.acc < nan", 15, "nan can only be compared"),
    ("(status = 'failed'", 19, "to close the '\\(' at column 1"),
    ("status = 'failed')", 18, "found '\\)'"),
    ("foo = 1", 1, "unknown attribute 'foo'"),
    ("statuz = 'failed'", 1, "did you mean 'status'"),
    ("attributes.colour = 'red'", 1, "unknown attribute 'colour'"),
    ("foo.bar = 1", 1, "unknown field 'foo.bar'"),
    ("params. = 1", 9, "expected a key after 'params.'"),
    ("params = 1", 8, "expected '.' and a key after 'params'"),
    ('params."" = 1', 8, "expected a key"),
    ("status = 'DONE'", 10, "unknown status 'DONE'; valid statuses: RUNNING, FINISHED"),
    ("name = 'abc", 8, "unterminated string"),
    ("status = 'failed' xyz", 19, "expected 'and', 'or' or end of input, found 'xyz'"),
    ("metrics.acc > 0.9 and", 22, "found end of input"),
    ("metrics.acc > 0.9 or or", 22, "expected a field"),
    ("metrics.acc 0.9", 13, "expected an operator"),
    ("metrics.acc in 1", 16, "'\\(' after 'in'"),
    ("metrics.acc in (1, 2", 21, "',' or '\\)'"),
    ("metrics.acc in ()", 17, "expected a value"),
    ("metrics.acc not between 1", 17, "'in', 'like' or 'ilike' after 'not'"),
    ("metrics.acc is 1", 16, "null after 'is'"),
    ("metrics.acc > 1.2.3", 15, "expected a number, found '1.2.3'"),
    ("metrics.acc > 1x", 15, "expected a number"),
    ("metrics.acc ! 1", 13, "unexpected character '!'"),
    ("params.model = rf", 16, "quote text"),
    ("params.model like 5", 19, "quoted pattern"),
    ("params.model = `rf`", 16, "backticks quote keys"),
    ("params.lr = nan", 13, "params compare numerically"),
    ("params.flag > true", 15, "true/false only work with"),
    ("tags.team > 5", 13, "tags.team is text"),
    ("name = true", 8, "name is text"),
    ("duration > 'long'", 12, "duration is a number"),
    ("start_time > inf", 14, "finite"),
    ("not", 4, "expected a field"),
    ("(" * 200 + "status = 'failed'" + ")" * 200, 101, "too deep"),
]


@pytest.mark.parametrize(("text", "column", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_given_malformed_text_when_compiled_then_invalid_input_names_the_column(
    text: str, column: int, message: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        compile_filter(text)
    assert f"at column {column}:" in err.value.message
    assert re.search(message, err.value.message), err.value.message
    assert err.value.code == "INVALID_INPUT"


def test_given_a_syntax_error_when_reported_then_the_message_shows_an_example() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_filter("metrics.acc >")
    assert err.value.message == (
        "Malformed filter at column 14: expected a value after '>': a number, 'text', true or "
        "false, found end of input. Example: metrics.acc > 0.9 and params.model = 'rf'"
    )


def test_given_hostile_values_when_compiled_then_they_are_bound_not_interpolated(
    engine: sa.Engine,
) -> None:
    text = "params.model = 'x''; DROP TABLE runs; --' or tags.`a'b` in ('c', 2)"
    clause = compile_filter(text)
    assert clause is not None
    sql, params = clause
    assert "DROP" not in sql and "a'b" not in sql
    assert "x'; DROP TABLE runs; --" in params and "a'b" in params
    assert run_ids(engine, text) == set()
    assert run_ids(engine, "") == ALL


@pytest.mark.parametrize("text", [m[0] for m in MATCHES if m[0].strip()])
def test_given_any_filter_when_compiled_then_one_placeholder_per_value(text: str) -> None:
    clause = compile_filter(text)
    assert clause is not None
    sql, params = select_runs("runs.id", [clause], ["metrics.acc DESC", "params.n"], 10, 5)
    assert sql.count("?") == len(params) and params[-2:] == [10, 5]
    assert "NULLS LAST" in sql and "%" not in sql  # PostgreSQL's driver reads % as a marker


def test_given_the_schema_then_the_sql_of_attributes_and_run_columns_follows_it() -> None:
    runs = schema.runs
    skipped = {"heartbeat", "pid_start", "environment"}
    assert set(INFO_COLUMNS) == {c.name for c in runs.c} - skipped
    for attribute, (expr, nullable) in ATTRIBUTE_SQL.items():
        if ATTRIBUTES[attribute] == "experiment":
            continue
        used = [c for c in runs.c if re.search(rf'runs\."?{c.name}\b', expr)]
        assert used, attribute
        assert set(nullable) == {f"runs.{c.name}" for c in used if c.nullable}, attribute


def test_given_indexes_when_explaining_a_metric_and_param_filter_then_no_table_is_scanned(
    engine: sa.Engine,
) -> None:
    clause = compile_filter("metrics.acc > 0.9 and params.model = 'rf'")
    assert clause is not None
    sql, params = select_runs("runs.id", [clause], [])
    with engine.connect() as conn:
        explain = ConnectionDb(conn).rows
        if engine.dialect.name == "sqlite":
            plan = "\n".join(row[-1] for row in explain(f"EXPLAIN QUERY PLAN {sql}", params))
            assert not re.search(r"SCAN (latest_metrics|params)\b", plan), plan
            assert (
                "SEARCH latest_metrics USING COVERING INDEX ix_latest_metrics_key_value" in plan
            ), plan
            assert "SEARCH params USING COVERING INDEX ix_params_key_value" in plan, plan
        else:  # five rows favour a sequential scan: forbid it to prove the indexes are usable
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in explain(f"EXPLAIN {sql}", params))
            assert not re.search(r"Seq Scan on (latest_metrics|params)\b", plan), plan
            for table in ("latest_metrics", "params"):  # PG may probe params by its primary key
                assert re.search(rf"Index (Only )?Scan using \w+ on {table}\b", plan), plan


ORDERS = [
    (["metrics.acc DESC"], ["r1", "r2", "r3", "r4", "r5"]),
    (["metrics.acc"], ["r3", "r2", "r1", "r4", "r5"]),
    (["metrics.acc asc"], ["r3", "r2", "r1", "r4", "r5"]),
    (["metrics.loss DESC"], ["r2", "r4", "r1", "r3", "r5"]),
    (["params.n"], ["r2", "r1", "r3", "r4", "r5"]),
    (["params.n DESC"], ["r3", "r1", "r2", "r4", "r5"]),
    (["params.model DESC", "metrics.acc"], ["r3", "r2", "r1", "r4", "r5"]),
    (["tags.stage"], ["r1", "r2", "r3", "r4", "r5"]),
    (["start_time DESC"], ["r5", "r4", "r3", "r2", "r1"]),
    (["duration DESC"], ["r3", "r1", "r2", "r5", "r4"]),
    (["end_time"], ["r2", "r1", "r5", "r3", "r4"]),
    (["experiment DESC", "name"], ["r4", "r5", "r1", "r2", "r3"]),
    (["status"], ["r3", "r1", "r2", "r5", "r4"]),
    (["metrics.acc DESC", "metrics.loss DESC"], ["r1", "r2", "r3", "r4", "r5"]),
    (["metrics.loss", "metric.acc DESC"], ["r1", "r4", "r2", "r3", "r5"]),
    (["attributes.user", 'params."max depth" DESC'], ["r1", "r3", "r2", "r5", "r4"]),
    ([], ["r1", "r2", "r3", "r4", "r5"]),
]


@pytest.mark.parametrize(("items", "expected"), ORDERS, ids=[",".join(o[0]) for o in ORDERS])
def test_given_order_items_when_sorting_then_missing_keys_come_last_and_id_breaks_ties(
    engine: sa.Engine, items: list[str], expected: list[str]
) -> None:
    assert ordered_ids(engine, items) == expected


def test_given_a_filter_and_an_order_when_paginating_then_pages_are_stable(
    engine: sa.Engine,
) -> None:
    text, order = "metrics.loss is not null", ["metrics.loss DESC"]
    pages = [ordered_ids(engine, order, text, limit=2, offset=k) for k in (0, 2, 4)]
    assert pages == [["r2", "r4"], ["r1", "r3"], []]
    assert ordered_ids(engine, ["status DESC"], "status != 'running'") == ["r5", "r1", "r2", "r3"]


def test_given_order_items_when_compiled_then_run_id_is_the_final_key() -> None:
    keys = compile_order_by(["name DESC", "metrics.acc"])
    assert keys[-1].expr == "runs.id" and not keys[-1].descending and not keys[-1].nullable
    assert [k.descending for k in keys] == [True, False, False]
    assert keys[1].join is not None and keys[0].join is None


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("metrics.acc DOWN", "column 13: expected ASC, DESC or end of item, found 'DOWN'"),
        ("metrics.acc DESC extra", "column 18: expected ASC, DESC"),
        ("metrics.acc > 1", "column 13"),
        ("colour", "column 1: unknown attribute 'colour'"),
        ("", "column 1: expected a field"),
        ("params.", "column 8: expected a key"),
    ],
)
def test_given_a_malformed_order_item_when_compiled_then_invalid_input_is_raised(
    item: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        compile_order_by([item])


def test_given_the_help_text_when_read_then_it_lists_operators_attributes_and_examples() -> None:
    for needle in ("metrics.acc > 0.9", "not in", "ilike", "is null", "duration", "experiment"):
        assert needle in FILTER_HELP
    assert parse_filter("metrics.acc > 0.9 and (params.model = 'rf' or tags.stage in ('a'))")


FRAGMENTS = [
    "metrics.acc", "params.n", "tags.`a b`", "status", "duration", "experiment", "and", "or",
    "not", "in", "like", "is", "null", "(", ")", ",", "=", "!=", "<=", ">", "'x'", "'", '"', "`",
    "0.5", "-1e3", "nan", "inf", "true", "\\", "params.", ".", " ",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join) | st.text(max_size=30))
def test_given_arbitrary_text_when_compiled_then_only_invalid_input_is_raised(text: str) -> None:
    try:
        clause = compile_filter(text)
    except InvalidInput as err:
        assert re.search(r"at column \d+:", err.message), err.message
    else:
        if clause is not None:
            sql, params = clause
            assert sql.count("?") == len(params) and "%" not in sql


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a > 1 or " * 5_000 + "metrics.a > 1", "characters long"),
        (" or ".join(f"params.p{i} = {i}" for i in range(201)), "201 comparisons"),
        ("params.p in (" + ", ".join(map(str, range(250))) + ")", "250 comparisons"),
        ("(" * 101 + "metrics.a > 1" + ")" * 101, "nesting is too deep"),
    ],
)
def test_given_a_filter_beyond_the_limits_then_it_is_refused_before_any_sql(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_filter(text)


def test_given_the_largest_accepted_filter_then_sqlite_runs_it(engine: sa.Engine) -> None:
    text = " or ".join(f"params.p{i} = {i}" for i in range(200))
    assert run_ids(engine, text) == set()
