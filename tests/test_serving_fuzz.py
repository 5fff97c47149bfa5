"""Bad input, generated, against real model servers: every operation of a server's own OpenAPI
document fuzzed by schemathesis (bodies that fit the document and bodies that break it), and
arbitrary JSON values and bytes posted to the three routes that read a body. Every answer is
below 500, a refusal is a 4xx in the protocol's own error shape, and the server keeps
answering.

Two servers, each its own process started the way the CLI starts one: a scikit-learn Pipeline
over a number, a whole number and a text column (a ColumnTransformer, so it takes a
DataFrame), behind a bearer token; and a plain LogisticRegression over four numbers (a float
array), with no token. Generation is reproducible: a fixed seed, ``derandomize`` off (the seed
fixes the run), and no example database (a run never replays another's finds).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from serving_helpers import FEATURES, Reply, call, frame, register
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from jupyter_mlops import Client
from jupyter_mlops.serving import ServeOptions, ServerHandle, start_server
from jupyter_mlops.serving.openapi import openapi_document

pytestmark = pytest.mark.slow

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = 20240611
# Generated requests per server, operation and mode (positive: what the document accepts;
# negative: what it refuses), and per server and route for the raw JSON and bytes below.
MAX_EXAMPLES = 60
RAW_EXAMPLES = 120
# A hang is a failure too: no answer within this many seconds.
TIMEOUT = 20.0
# The columns each model takes, with their kinds (checked against the live servers).
MIXED_KINDS = {"amount": "float", "tenure": "int", "plan": "str"}
NUMERIC_KINDS = dict.fromkeys(FEATURES, "float")
SERVERS = ["mixed", "numeric"]
# A failure is reported as generated (the whole request, and the server's traceback for it),
# not shrunk: shrinking a failing body costs a request a step, minutes in all. Set
# MLOPS_FUZZ_SHRINK=1 to have hypothesis shrink failures to their smallest request.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("MLOPS_FUZZ_SHRINK") == "1":
    PHASES.append(Phase.shrink)
_SETTINGS = {
    "deadline": None,
    "database": None,  # a run never replays another's finds: the seed alone decides
    "derandomize": False,  # the fixed seed below makes the run reproducible
    "phases": PHASES,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, **_SETTINGS)
RAW_SETTINGS = settings(max_examples=RAW_EXAMPLES, **_SETTINGS)

# What was sent, by test, operation and kind of input: printed after the module's tests.
SENT: Counter[tuple[str, str, str]] = Counter()


@dataclass
class Served:
    """A running model server, the model it serves and where its log is."""

    handle: ServerHandle
    name: str
    kinds: dict[str, str]  # the columns, each with its kind
    headers: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return self.handle.url

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def traceback(self, request_id: str | None) -> str:
        """What the server logged about one request (its traceback), else its log's end."""
        lines = self.log_text().splitlines()
        start = next((i for i, line in enumerate(lines) if f" request {request_id} " in line), None)
        if request_id is None or start is None:
            return f"server log ({self.log}), its end:\n" + "\n".join(lines[-40:])
        end = next(
            (i for i in range(start + 1, len(lines)) if _LOG_RECORD.match(lines[i])), len(lines)
        )
        return f"server log ({self.log}):\n" + "\n".join(lines[start:end])


# A record of the server's log starts with its time: 2026-01-31 12:00:00,000 LEVEL ...
_LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = Client(tmp_path_factory.mktemp("serving-fuzz") / "store")
    yield client
    client.close()


def _serve(store: Client, target: str, name: str, kinds: dict[str, str], token: str | None):
    handle = start_server(store, target, ServeOptions(token=token))
    log = store.location.home / "server-logs" / f"{handle.id}.log"
    return Served(handle, name, kinds, AUTH if token else {}, log)


@pytest.fixture(scope="module")
def mixed(store: Client) -> Iterator[Served]:
    """A Pipeline over a number, a whole number and a text column, behind a token."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "amount": rng.lognormal(0, 0.5, 300),  # spread under 1, as scaled amounts are
            "tenure": rng.integers(0, 72, 300),
            "plan": rng.choice(["basic", "pro", "team"], 300),
        }
    )
    y = ((X["amount"] > 1) ^ (X["plan"] == "pro")).astype(int).to_numpy()
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["amount", "tenure"]),
            ("text", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)
    register(store, "churn", model, X.head(3), alias="champion")
    served = _serve(store, "churn@champion", "churn", MIXED_KINDS, TOKEN)
    yield served
    served.handle.stop()


@pytest.fixture(scope="module")
def numeric(store: Client) -> Iterator[Served]:
    """A plain LogisticRegression over four numbers, with no token."""
    X, y = frame()
    register(store, "scores", LogisticRegression().fit(X, y), X.head(3), alias="live")
    served = _serve(store, "scores@live", "scores", NUMERIC_KINDS, None)
    yield served
    served.handle.stop()


@pytest.fixture(scope="module", autouse=True)
def _report_sent(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: how many requests each test sent, by operation and kind of input."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not SENT:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_sep("-", "requests sent by tests/test_serving_fuzz.py")
        for (test, operation, kind), count in sorted(SENT.items()):
            reporter.write_line(f"{count:6d}  {test:8s} {operation:54s} {kind}")
        reporter.write_line(f"{sum(SENT.values()):6d}  in all")


# -- the error shapes ---------------------------------------------------------------------------


def error_keys(path: str) -> set[str]:
    """The keys of a refusal's body on ``path``: each protocol its own."""
    if path.startswith("/v2"):
        return {"error"}
    if path == "/invocations":
        return {"error_code", "message"}
    return {"code", "message"}


def refusal_problem(path: str, status: int, body: bytes) -> str | None:
    """What is wrong with a 4xx answer on ``path``, or None: a JSON object in the route's
    error shape with a non-empty message."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"a {status} whose body is not JSON: {body[:200]!r}"
    want = error_keys(path)
    if not isinstance(data, dict) or set(data) != want:
        return f"a {status} whose body is not {sorted(want)}: {body[:200]!r}"
    message = data.get("message", data.get("error"))
    if not isinstance(message, str) or not message:
        return f"a {status} that names no problem: {body[:200]!r}"
    return None


# -- 1. schemathesis over the server's own OpenAPI document -----------------------------------


def declared_or_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """The status is one the document declares for the operation (``200``, ``4XX``...) or
    a 4xx (a token refused, a method the route does not take); a 4xx is in the route's
    error shape."""
    status = response.status_code
    declared = case.operation.responses.status_codes
    text = str(status)
    ok = 400 <= status < 500 or any(
        code == "default" or code == text or (code.endswith("XX") and code[0] == text[0])
        for code in declared
    )
    assert ok, f"{case.method} {case.formatted_path}: {status}, the document declares {declared}"
    if 400 <= status < 500:
        problem = refusal_problem(case.path, status, response.content)
        assert problem is None, f"{case.method} {case.formatted_path}: {problem}"
    return None


def _document_operations() -> list[tuple[str, bool]]:
    """The operations of a server's document, as ``(METHOD /path, takes a body)``: the same
    routes whatever the model (the live documents are checked to list exactly these)."""
    state = SimpleNamespace(predictor=None, token=None, name="m", ref="@a", server_version="")
    paths = openapi_document(state)["paths"]  # type: ignore[arg-type]
    return [
        (f"{method.upper()} {path}", "requestBody" in operation)
        for path, item in paths.items()
        for method, operation in item.items()
    ]


OPERATIONS = _document_operations()
# Positive cases for every operation; negative ones where there is something to break: a
# body (a path parameter is any text, and the GET routes take nothing else).
FUZZED = [
    (label, mode)
    for label, body in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if body or mode is GenerationMode.POSITIVE
]


@pytest.fixture(scope="module")
def schemas(mixed: Served, numeric: Served) -> dict[str, Any]:
    """Each server's document, loaded by schemathesis from the server itself."""
    return {"mixed": _schema(mixed), "numeric": _schema(numeric)}


def _schema(served: Served) -> Any:
    schema = schemathesis.openapi.from_url(
        served.url + "/openapi.json",
        config=schemathesis.Config(),  # no schemathesis.toml from wherever pytest runs
        headers=served.headers,
        timeout=TIMEOUT,
    )
    schema.config.update(headers=served.headers, request_timeout=TIMEOUT)
    pinned = {"name": served.name, "version": "1"}

    # A generated model name or version is almost never the served one (a 404 before the body
    # is read): each path parameter is the served model's or the generated one, half and half.
    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries(
            {
                key: st.sampled_from([pinned[key], value]) if key in pinned else st.just(value)
                for key, value in path_parameters.items()
            }
        )

    return schema


@pytest.mark.parametrize("which", SERVERS)
def test_given_a_live_document_then_it_lists_exactly_the_fuzzed_operations_and_columns(
    request: pytest.FixtureRequest, schemas: dict[str, Any], which: str
) -> None:
    # (schemathesis' get_all_operations leaves out the document's own URL: the test below
    # takes each operation by path and method, /openapi.json too.)
    paths = schemas[which].raw_schema["paths"]
    live = [f"{method.upper()} {path}" for path, item in paths.items() for method in item]
    assert sorted(live) == sorted(label for label, _ in OPERATIONS)
    served: Served = request.getfixturevalue(which)
    meta = call(served.url, f"/v2/models/{served.name}", headers=served.headers).json()
    inputs = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert inputs == {name: V2_TYPE[kind] for name, kind in served.kinds.items()}


@pytest.mark.parametrize(("label", "mode"), FUZZED, ids=[f"{o} {m.value}" for o, m in FUZZED])
@pytest.mark.parametrize("which", SERVERS)
def test_given_generated_requests_for_an_operation_then_none_answers_5xx(
    request: pytest.FixtureRequest,
    schemas: dict[str, Any],
    which: str,
    label: str,
    mode: GenerationMode,
) -> None:
    served: Served = request.getfixturevalue(which)
    method, path = label.split(" ", 1)
    operation = schemas[which][path][method]

    @FUZZ_SETTINGS
    @seed(SEED)
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        SENT[(which, label, mode.value)] += 1
        response = case.call(timeout=TIMEOUT)
        request_id = (response.headers.get("x-request-id") or [None])[0]
        assert response.status_code < 500, (
            f"{label} answered {response.status_code}: {response.content[:300]!r}\n"
            f"{case.as_curl_command()}\n{served.traceback(request_id)}"
        )
        case.validate_response(response, checks=[not_a_server_error, declared_or_4xx])

    run()


# -- 2. arbitrary JSON and bytes on the routes that read a body --------------------------------

# Text with lone surrogates too: json.dumps writes them as "\ud800" escapes (valid JSON that
# no UTF-8 string holds), or, with surrogatepass, as bytes no UTF-8 decoder takes.
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=12)
# Up to the 4300 digits json.dumps writes; longer numbers are written raw (raw_json below).
HUGE_INT = st.integers(0, 4200).map(lambda k: 10**k + 1) | st.integers(-(2**70), 2**70)
# NaN and infinities too (json.dumps writes them as NaN / Infinity literals), and the finite
# floats at the edges.
FLOATS = st.floats() | st.sampled_from([1.7976931348623157e308, -1e308, 5e-324, -0.0])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INT
    | FLOATS
    | TEXT
    | st.sampled_from(["", "NaN", "inf", "1e999", "true", "basic", "amount", "f0"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)
# A value of a column's kind, most of the time: the model itself sees the extremes.
_OF_KIND = {
    "float": FLOATS | st.integers() | HUGE_INT,
    "int": st.integers() | HUGE_INT | FLOATS,
    "bool": st.booleans(),
    "str": TEXT | st.sampled_from(["basic", "pro", "team"]),
}
V2_TYPE = {"float": "FP64", "int": "INT64", "bool": "BOOL", "str": "BYTES"}


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` seven times in eight, else ``other`` (``|`` would weigh their branches
    alike): a body broken in one place reaches the checks behind the others."""
    return st.integers(0, 7).flatmap(lambda i: other if i == 0 else usual)


def cell(kind: str) -> st.SearchStrategy[Any]:
    return mostly(_OF_KIND[kind], SCALARS)


def _encode(value: Any, how: str) -> bytes:
    if how == "ascii":  # non-ASCII and surrogates as \u escapes, NaN as a literal
        return json.dumps(value).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _deep(n: int, opener: str, closer: str, inner: str = "") -> str:
    return opener * n + inner + closer * n


@st.composite
def raw_json(draw: st.DrawFn, shaped: st.SearchStrategy[Any]) -> bytes:
    """A JSON text: a value (alone or in the route's own shape), nested up to 200,000 deep,
    or a number with up to 20,000 digits."""
    kind = draw(st.sampled_from(["value", "shaped", "shaped", "shaped", "deep", "digits"]))
    if kind == "deep":
        n = draw(st.integers(1, 200_000) | st.integers(900, 1100))
        nested = _deep(n, "[", "]", "1")
        text = draw(
            st.sampled_from(
                [
                    lambda: _deep(n, "[", "]"),
                    lambda: _deep(n, '{"a":', "}", "1"),
                    lambda: '{"instances": ' + nested + "}",
                    lambda: '{"dataframe_split": {"data": [' + nested + "]}}",
                    lambda: (
                        '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", '
                        f'"data": {nested}}}]}}'
                    ),
                    lambda: '{"request_id": "r", "labels": ' + nested + "}",
                ]
            )
        )()
        return text.encode()
    if kind == "digits":
        digits = ("-" if draw(st.booleans()) else "") + "9" * draw(st.integers(4000, 20_000))
        return draw(
            st.sampled_from(
                [
                    digits.encode(),
                    b'{"instances": [[' + digits.encode() + b"]]}",
                    b'{"request_id": "r", "label": ' + digits.encode() + b"}",
                ]
            )
        )
    value = draw(VALUES if kind == "value" else shaped)
    return _encode(value, draw(st.sampled_from(["ascii", "utf8"])))


def _row(kinds: dict[str, str]) -> st.SearchStrategy[list[Any]]:
    return st.tuples(*(cell(k) for k in kinds.values())).map(list)


def _record(kinds: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({c: cell(k) for c, k in kinds.items()})


def invocations_bodies(kinds: dict[str, str]) -> st.SearchStrategy[Any]:
    columns = list(kinds)
    width = len(columns)
    rows = mostly(
        st.lists(_row(kinds), min_size=1, max_size=4),
        st.lists(st.lists(SCALARS, max_size=width + 1), max_size=3) | VALUES,
    )
    records = mostly(
        st.lists(_record(kinds), min_size=1, max_size=4),
        st.lists(st.dictionaries(st.sampled_from(columns) | TEXT, SCALARS), max_size=3) | VALUES,
    )
    by_column = mostly(
        st.fixed_dictionaries(
            {c: st.lists(cell(k), min_size=1, max_size=3) for c, k in kinds.items()}
        ),
        st.dictionaries(st.sampled_from(columns) | TEXT, VALUES),
    )
    params = mostly(
        st.sampled_from([None, {"predict_proba": True}, {"method": "predict_proba"}]),
        VALUES | st.fixed_dictionaries({"method": VALUES}),
    )
    names = mostly(
        st.just(columns) | st.permutations(columns),
        st.lists(st.sampled_from(columns) | TEXT) | VALUES,
    )
    split = st.builds(
        lambda cols, data, p: {"dataframe_split": {"columns": cols, "data": data}, "params": p},
        names,
        rows,
        params,
    )
    return mostly(
        st.one_of(
            split,
            st.builds(lambda r, p: {"dataframe_records": r, "params": p}, records, params),
            st.builds(
                lambda key, v, p: {key: v, "params": p},
                st.sampled_from(["instances", "inputs"]),
                rows | records | by_column,
                params,
            ),
        ),
        st.dictionaries(
            st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]) | TEXT,
            VALUES,
            max_size=3,
        ),
    ).map(lambda body: {k: v for k, v in body.items() if v is not None})


DATATYPES = st.sampled_from(["BOOL", "INT8", "INT64", "UINT8", "FP16", "FP32", "FP64", "BYTES"])
DATATYPES = DATATYPES | st.sampled_from(["FLOAT", "", "fp64"])


@st.composite
def _by_column(draw: st.DrawFn, kinds: dict[str, str]) -> list[dict[str, Any]]:
    """One input per column, mostly of the column's datatype and shape, with rows of its
    kind."""
    rows = draw(mostly(st.integers(1, 3), st.integers(0, 4)))
    tensors = []
    for name, kind in kinds.items():
        datatype = draw(mostly(st.just(V2_TYPE[kind]), DATATYPES))
        data = draw(mostly(st.lists(cell(kind), min_size=rows, max_size=rows), st.lists(SCALARS)))
        shape = draw(mostly(st.sampled_from([[rows], [rows, 1]]), st.lists(st.integers(-1, 4))))
        tensors.append({"name": name, "shape": shape, "datatype": datatype, "data": data})
    return draw(mostly(st.just(tensors), st.permutations(tensors)))


@st.composite
def _matrix(draw: st.DrawFn, kinds: dict[str, str]) -> list[dict[str, Any]]:
    """One 2-D input holding every column, flat or nested."""
    rows = draw(mostly(st.integers(1, 3), st.integers(0, 4)))
    width = len(kinds)
    values = draw(st.lists(_row(kinds), min_size=rows, max_size=rows))
    data = values if draw(st.booleans()) else [v for row in values for v in row]
    shape = draw(mostly(st.just([rows, width]), st.lists(st.integers(-1, 5) | HUGE_INT)))
    datatype = draw(mostly(st.sampled_from(["FP64", "FP32", "INT64"]), DATATYPES))
    return [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]


def v2_bodies(kinds: dict[str, str]) -> st.SearchStrategy[Any]:
    tensor = st.fixed_dictionaries(
        {
            "name": st.sampled_from(list(kinds)) | TEXT,
            "shape": st.lists(st.integers(-2, 5) | HUGE_INT, max_size=3) | VALUES,
            "datatype": DATATYPES | VALUES,
            "data": st.lists(SCALARS, max_size=6) | VALUES,
        }
    )
    inputs = mostly(_by_column(kinds) | _matrix(kinds), st.lists(tensor, max_size=3) | VALUES)
    outputs = mostly(
        st.sampled_from([None, [{"name": "predict_proba"}, {"name": "predict"}]]),
        st.lists(st.fixed_dictionaries({"name": VALUES}), max_size=2) | VALUES,
    )
    return st.builds(
        lambda i, o, rid: {"inputs": i, "outputs": o, "id": rid},
        inputs,
        outputs,
        mostly(st.none() | TEXT, VALUES),
    ).map(lambda body: {k: v for k, v in body.items() if v is not None})


def feedback_bodies(kinds: dict[str, str]) -> st.SearchStrategy[Any]:
    label = SCALARS | VALUES
    item = st.one_of(
        st.builds(lambda rid, v: {"request_id": rid, "label": v}, TEXT | VALUES, label),
        st.builds(lambda rid, v: {"request_id": rid, "labels": v}, TEXT, st.lists(label) | label),
        st.dictionaries(st.sampled_from(["request_id", "label", "labels"]) | TEXT, VALUES),
    )
    return item | st.builds(lambda items: {"feedback": items}, st.lists(item, max_size=4) | VALUES)


ROUTES: list[tuple[str, Callable[[dict[str, str]], st.SearchStrategy[Any]]]] = [
    ("/invocations", invocations_bodies),
    ("/v2/models/{name}/infer", v2_bodies),
    ("/feedback", feedback_bodies),
]


def _post(served: Served, path: str, raw: bytes, content_type: str) -> Reply:
    return call(
        served.url,
        path,
        raw=raw,
        content_type=content_type,
        headers=served.headers,
        timeout=TIMEOUT,
    )


def _shown(raw: bytes, limit: int = 1500) -> str:
    """A body for a failure message: runs of digits shortened to their count."""
    short = re.sub(rb"\d{40,}", lambda m: b"<%d digits>" % len(m.group(0)), raw)
    return repr(short[:limit]) + ("..." if len(short) > limit else "")


def _check_reply(served: Served, path: str, raw: bytes, content_type: str) -> None:
    where = f"POST {path} ({content_type}, {len(raw)} bytes) with {_shown(raw)}"
    try:
        reply = _post(served, path, raw, content_type)
    except OSError as exc:  # a hang (timeout) or a dropped connection
        raise AssertionError(f"{where} got no answer: {exc!r}\n{served.traceback(None)}") from exc
    assert reply.status < 500, (
        f"{where} answered {reply.status}: {reply.body[:300]!r}\n"
        f"{served.traceback(reply.headers.get('x-request-id'))}"
    )
    if reply.status >= 400:
        problem = refusal_problem(path, reply.status, reply.body)
        assert problem is None, f"{where} answered {problem}"
    else:
        assert isinstance(json.loads(reply.body), dict), f"{where} answered {reply.body[:300]!r}"


def _route_path(template: str, served: Served) -> str:
    return template.replace("{name}", served.name)


@pytest.mark.parametrize("which", SERVERS)
@pytest.mark.parametrize(("template", "shaped"), ROUTES, ids=[r[0] for r in ROUTES])
def test_given_arbitrary_json_values_then_every_answer_is_below_500_in_the_error_shape(
    request: pytest.FixtureRequest, which: str, template: str, shaped: Any
) -> None:
    served: Served = request.getfixturevalue(which)
    path = _route_path(template, served)

    @RAW_SETTINGS
    @seed(SEED)
    @given(raw=raw_json(shaped(served.kinds)))
    def run(raw: bytes) -> None:
        SENT[(which, f"POST {template}", "json values")] += 1
        _check_reply(served, path, raw, "application/json")

    run()


CSV_CELLS = st.sampled_from(["", "1", "-2.5", "1e999", "nan", "inf", "x", '"q,"', "\ufeff", "true"])


@st.composite
def raw_bytes(draw: st.DrawFn, kinds: dict[str, str]) -> bytes:
    """Arbitrary bytes, or CSV-like text: a header (the model's columns, others, none) and rows
    of cells of any width."""
    columns = list(kinds)
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    header = draw(st.none() | st.just(columns) | st.lists(st.sampled_from(columns) | TEXT))
    rows = draw(st.lists(st.lists(CSV_CELLS | TEXT, max_size=len(columns) + 1), max_size=5))
    lines = ([header] if header is not None else []) + rows
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = sep.join(",".join(line) for line in lines)
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("which", SERVERS)
@pytest.mark.parametrize("template", [r[0] for r in ROUTES])
def test_given_arbitrary_bytes_as_json_or_csv_then_every_answer_is_below_500_in_the_error_shape(
    request: pytest.FixtureRequest, which: str, template: str
) -> None:
    served: Served = request.getfixturevalue(which)
    path = _route_path(template, served)

    @RAW_SETTINGS
    @seed(SEED)
    @given(
        raw=raw_bytes(served.kinds),
        content_type=st.sampled_from(["application/json", "text/csv", "text/csv; charset=utf-8"]),
    )
    def run(raw: bytes, content_type: str) -> None:
        SENT[(which, f"POST {template}", "bytes")] += 1
        _check_reply(served, path, raw, content_type)

    run()


@pytest.mark.parametrize("which", SERVERS)
def test_given_all_of_the_above_then_the_server_still_answers_and_logged_no_traceback(
    request: pytest.FixtureRequest, which: str
) -> None:
    served: Served = request.getfixturevalue(which)
    assert call(served.url, "/ping", timeout=TIMEOUT).status == 200
    assert call(served.url, "/v2/health/ready", timeout=TIMEOUT).status == 200
    failed = re.findall(r"ERROR request \S+ to \S+ failed", served.log_text())
    assert not failed, f"{len(failed)} request(s) failed in the server: see {served.log}"
