"""The two wire protocols a model server speaks, as pure functions from a body to the model's
input and from its output to a body.

* MLflow's scoring protocol (``POST /invocations``): a JSON object with one of
  ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (and optional
  ``params``), or ``text/csv``; the answer is ``{"predictions": [...]}``. Clients written for
  ``mlflow models serve`` work unchanged.
* The Open Inference Protocol v2 (KServe, MLServer, Triton): ``inputs`` of ``{name, shape,
  datatype, data}``; the answer's ``outputs`` have the same form. A tabular model takes one
  input per column or one 2-D tensor in signature order.

``predict_proba`` is asked for with ``params: {"predict_proba": true}`` (or ``{"method":
"predict_proba"}``) in MLflow's protocol and by requesting the output named
``predict_proba`` in the v2 protocol.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import InvalidInput, MlopsError, shown
from .spec import InputSpec

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
METHODS = ("predict", "predict_proba")
# The v2 protocol's tensor types, with the Python values their data holds.
V2_TYPES: dict[str, str] = {
    "BOOL": "bool",
    **{f"UINT{b}": "int" for b in (8, 16, 32, 64)},
    **{f"INT{b}": "int" for b in (8, 16, 32, 64)},
    **{f"FP{b}": "float" for b in (16, 32, 64)},
    "BYTES": "str",
}
MAX_TENSOR = 10_000_000


class UnsupportedMediaType(MlopsError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or a 400 saying why it is not one."""
    if not body:
        raise InvalidInput("The body is empty: send a JSON object.")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 text.") from None
    except RecursionError:
        raise InvalidInput("The body nests too deeply.") from None
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}.") from None


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


# -- MLflow ---------------------------------------------------------------------------------


def mlflow_request(spec: InputSpec, body: bytes, content_type: str) -> tuple[Any, str]:
    """``(model input, method)`` from an ``/invocations`` request."""
    kind = media_type(content_type)
    if kind == "text/csv":
        return csv_input(spec, body), "predict"
    if kind not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"Content type {shown(content_type)} is not supported: send application/json "
            "or text/csv."
        )
    data = parse_json(body)
    if not isinstance(data, dict):
        raise InvalidInput(
            "The body must be a JSON object with one of "
            f"{', '.join(MLFLOW_FORMATS)}, got {shown(data)}."
        )
    formats = [k for k in MLFLOW_FORMATS if k in data]
    unknown = [k for k in data if k not in MLFLOW_FORMATS and k != "params"]
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) {', '.join(shown(k) for k in unknown)}: use one of "
            f"{', '.join(MLFLOW_FORMATS)}, and params."
        )
    if len(formats) != 1:
        raise InvalidInput(
            f"The body must hold exactly one of {', '.join(MLFLOW_FORMATS)}"
            + (f", not {' and '.join(formats)}." if formats else ".")
        )
    method = _method(data.get("params"))
    fmt = formats[0]
    value = data[fmt]
    if fmt == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise InvalidInput(
                'dataframe_split must be an object {"columns": [...], "data": [[...], ...]}.'
            )
        extra = set(value) - {"columns", "data", "index"}
        if extra:
            raise InvalidInput(
                f"dataframe_split has unknown field(s) {', '.join(map(shown, sorted(extra)))}."
            )
        return spec.from_rows(value["data"], value.get("columns")), method
    if fmt == "dataframe_records":
        return spec.from_records(value), method
    return _tensor_like(spec, value, fmt), method


def _tensor_like(spec: InputSpec, value: Any, fmt: str) -> Any:
    """``instances`` / ``inputs``: rows (lists), records (objects) or columns (an object of
    lists)."""
    if isinstance(value, dict):
        return spec.from_columns(value)
    if isinstance(value, list) and value:
        first = value[0]
        if isinstance(first, dict):
            return spec.from_records(value)
        if isinstance(first, list):
            return spec.from_rows(value)
        if spec.width == 1:
            return spec.from_rows([[v] for v in value])
    raise InvalidInput(
        f"{fmt} must be a non-empty list of rows (lists) or records (objects), or an object "
        "of columns."
    )


def _method(params: Any) -> str:
    if params is None:
        return "predict"
    if not isinstance(params, dict):
        raise InvalidInput(f"params must be an object, got {shown(params)}.")
    method = params.get("method", "predict")
    if params.get("predict_proba") is True:
        method = "predict_proba"
    elif params.get("predict_proba") not in (None, False):
        raise InvalidInput("params.predict_proba must be true or false.")
    if method not in METHODS:
        raise InvalidInput(f"params.method must be one of {', '.join(METHODS)}.")
    return str(method)


def csv_input(spec: InputSpec, body: bytes) -> Any:
    """A CSV body: a header row naming the columns (in any order), or rows in signature
    order. An empty cell is a missing value."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV body is not UTF-8 text.") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise InvalidInput(f"The CSV body cannot be read: {exc}.") from None
    if not rows:
        raise InvalidInput("The CSV body holds no rows.")
    names = spec.names
    header: list[str] | None = None
    if set(rows[0]) & set(names) or not _all_numbers(rows[0]):
        header, rows = rows[0], rows[1:]
    order = header if header is not None else names
    if len(order) != len(set(order)):
        raise InvalidInput("The CSV header names a column more than once.")
    kinds = {c["name"]: c["kind"] for c in spec.describe()}
    columns: dict[str, list[Any]] = {n: [] for n in order}
    for r, row in enumerate(rows):
        if len(row) != len(order):
            raise InvalidInput(f"CSV row {r} has {len(row)} values; expected {len(order)}.")
        for name, cell in zip(order, row, strict=True):
            columns[name].append(_cell(cell, kinds.get(name, "any"), name, r))
    return spec.from_columns(columns, rows=len(rows))


def _all_numbers(row: Sequence[str]) -> bool:
    try:
        for cell in row:
            if cell != "":
                float(cell)
    except ValueError:
        return False
    return True


def _cell(cell: str, kind: str, name: str, row: int) -> Any:
    if cell == "":
        return None
    if kind in ("float", "int"):
        try:
            value = float(cell)
        except ValueError:
            raise InvalidInput(
                f"Column {shown(name)}, row {row}: expected a number, got {shown(cell)}."
            ) from None
        return int(value) if kind == "int" and value.is_integer() else value
    if kind == "bool":
        lowered = cell.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise InvalidInput(f"Column {shown(name)}, row {row}: expected true or false.")
    if kind == "any":
        try:
            return float(cell)
        except ValueError:
            return cell
    return cell


def mlflow_response(predictions: np.ndarray) -> bytes:
    return _dumps({"predictions": jsonable_array(predictions)})


# -- Open Inference Protocol v2 ---------------------------------------------------------------


def v2_request(
    spec: InputSpec, body: bytes, header_length: str | None = None
) -> tuple[Any, list[str], str | None]:
    """``(model input, outputs asked for, the request's own id)`` from a v2 ``infer`` body.

    With ``Inference-Header-Content-Length`` (``header_length``), the body is that many bytes
    of JSON followed by the raw bytes of the inputs whose ``parameters.binary_data_size``
    says how many are theirs, in order: the binary tensor extension Triton's and KServe's
    clients send by default (little-endian values; BYTES as 4-byte lengths and bytes)."""
    binary = b""
    if header_length is not None:
        try:
            split = int(header_length)
        except ValueError:
            raise InvalidInput("Inference-Header-Content-Length is not a number.") from None
        if not 0 <= split <= len(body):
            raise InvalidInput("Inference-Header-Content-Length is beyond the body.")
        body, binary = body[:split], body[split:]
    data = parse_json(body)
    if not isinstance(data, dict):
        raise InvalidInput(f"The body must be a JSON object with inputs, got {shown(data)}.")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("inputs must be a non-empty list of {name, shape, datatype, data}.")
    request_id = data.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("id must be text.")
    outputs = _v2_outputs(data.get("outputs"))
    reader = _BinaryReader(binary)
    tensors = [_v2_tensor(t, i, reader) for i, t in enumerate(inputs)]
    reader.done()
    names = set(spec.names)
    if (
        len(tensors) == 1
        and len(tensors[0][1]) == 2
        and not (tensors[0][0] in names and tensors[0][1][1] == 1 and spec.width != 1)
    ):
        name, shape, dtype, flat = tensors[0]
        if dtype == "str":
            raise InvalidInput(
                f"Input {shown(name)}: a 2-D tensor must hold numbers; send text columns as "
                "one input each."
            )
        try:
            matrix = np.asarray(flat, dtype=np.float64).reshape(shape)
        except OverflowError:
            raise InvalidInput(f"Input {shown(name)}: a number is too large.") from None
        return spec.from_matrix(matrix), outputs, request_id
    columns: dict[str, list[Any]] = {}
    for name, shape, _dtype, flat in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(
                f"Input {shown(name)} has shape {shape}: one input per column takes shape "
                "[rows] or [rows, 1]; a single input of shape [rows, columns] takes them all."
            )
        if name in columns:
            raise InvalidInput(f"Input {shown(name)} is given twice.")
        columns[name] = flat
    return spec.from_columns(columns), outputs, request_id


def _v2_outputs(value: Any) -> list[str]:
    if value is None:
        return ["predict"]
    if not isinstance(value, list) or not value:
        raise InvalidInput("outputs must be a non-empty list of {name}.")
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in METHODS:
            raise InvalidInput(f"Unknown output {shown(name)}: use {' or '.join(METHODS)}.")
        names.append(str(name))
    return names


class _BinaryReader:
    """The binary part of a request, taken input by input."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: Any, where: str) -> bytes:
        if type(size) is not int or size < 0 or self.at + size > len(self.data):
            raise InvalidInput(f"{where}: binary_data_size does not fit the body's binary part.")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def done(self) -> None:
        if self.at != len(self.data):
            raise InvalidInput(
                f"The body has {len(self.data) - self.at} binary bytes no input claims."
            )


def _binary_values(raw: bytes, datatype: str, size: int, where: str) -> list[Any]:
    """The values of one input sent as raw bytes, as Python values."""
    if datatype == "BYTES":
        texts: list[Any] = []
        at = 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise InvalidInput(f"{where}: a BYTES element is cut short.")
            length = int.from_bytes(raw[at : at + 4], "little")
            chunk = raw[at + 4 : at + 4 + length]
            if len(chunk) != length:
                raise InvalidInput(f"{where}: a BYTES element is cut short.")
            try:
                texts.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInput(f"{where}: a BYTES element is not UTF-8 text.") from None
            at += 4 + length
        return texts
    dtype = np.dtype(_NUMPY_TYPES[datatype]).newbyteorder("<")
    if len(raw) != size * dtype.itemsize:
        raise InvalidInput(
            f"{where}: {len(raw)} bytes of binary data for {size} {datatype} values."
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


_NUMPY_TYPES = {
    "BOOL": "bool", "UINT8": "u1", "UINT16": "u2", "UINT32": "u4", "UINT64": "u8",
    "INT8": "i1", "INT16": "i2", "INT32": "i4", "INT64": "i8",
    "FP16": "f2", "FP32": "f4", "FP64": "f8",
}  # fmt: skip


def _v2_tensor(
    tensor: Any, index: int, reader: _BinaryReader
) -> tuple[str, list[int], str, list[Any]]:
    if not isinstance(tensor, dict):
        raise InvalidInput(f"inputs[{index}] must be an object {{name, shape, datatype, data}}.")
    name, shape, datatype, data = (tensor.get(k) for k in ("name", "shape", "datatype", "data"))
    where = f"Input {shown(name)}" if isinstance(name, str) else f"inputs[{index}]"
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] needs a name.")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
        or len(shape) > 8
    ):
        raise InvalidInput(f"{where}: shape must be a list of whole numbers, e.g. [2, 20].")
    if datatype not in V2_TYPES:
        raise InvalidInput(
            f"{where}: unknown datatype {shown(datatype)}; use one of {', '.join(V2_TYPES)}."
        )
    if any(d > MAX_TENSOR for d in shape) or math.prod(shape) > MAX_TENSOR:
        raise InvalidInput(f"{where}: the shape holds more than {MAX_TENSOR} values.")
    size = math.prod(shape)
    parameters = tensor.get("parameters")
    binary_size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if binary_size is not None:
        flat = _binary_values(reader.take(binary_size, where), datatype, size, where)
    elif not isinstance(data, list):
        raise InvalidInput(f"{where}: data must be a list.")
    else:
        flat = _flatten(data, where)
    if len(flat) != size:
        raise InvalidInput(f"{where}: shape {shape} needs {size} values; data holds {len(flat)}.")
    kind = V2_TYPES[datatype]
    check = _V2_CHECKS[kind]
    low, high = _int_range(datatype)
    for i, v in enumerate(flat):
        if not check(v) or (kind == "int" and not low <= v <= high):
            raise InvalidInput(
                f"{where}: value {i} is {shown(v)}, which is not of datatype {datatype}."
            )
    return name, shape, kind, flat


def _int_range(datatype: str) -> tuple[int, int]:
    """The values an INTn or UINTn tensor holds (any for other types)."""
    if datatype.startswith("UINT"):
        return 0, 2 ** int(datatype[4:]) - 1
    if datatype.startswith("INT"):
        bits = int(datatype[3:])
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 0


_V2_CHECKS = {
    "bool": lambda v: type(v) is bool,
    "int": lambda v: type(v) is int,
    "float": lambda v: type(v) in (int, float),
    "str": lambda v: type(v) is str,
}


def _flatten(data: list[Any], where: str, depth: int = 0) -> list[Any]:
    if not any(type(v) is list for v in data):
        return data
    if depth > 8:
        raise InvalidInput(f"{where}: data nests too deeply.")
    out: list[Any] = []
    for v in data:
        if type(v) is list:
            out.extend(_flatten(v, where, depth + 1))
        else:
            out.append(v)
    return out


def v2_datatype(values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{values.dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{values.dtype.itemsize * 8}"
    return "BYTES"


def v2_output(name: str, values: np.ndarray) -> dict[str, Any]:
    return {
        "name": name,
        "shape": list(values.shape),
        "datatype": v2_datatype(values),
        "data": jsonable_array(values.reshape(-1)),
    }


def jsonable_array(values: np.ndarray) -> list[Any]:
    """Values for JSON: numpy scalars as Python ones, NaN and infinities as text (as MLflow's
    server writes them)."""
    out: list[Any] = values.tolist()
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        out = _nonfinite(out)
    elif values.dtype.kind == "O":
        out = [v if isinstance(v, str | int | float | bool) or v is None else str(v) for v in out]
    return out


def _nonfinite(values: list[Any]) -> list[Any]:
    def fix(v: Any) -> Any:
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        return v

    return [fix(v) for v in values]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def dumps(value: Any) -> bytes:
    """A response body (compact JSON, never a bare NaN)."""
    return _dumps(value)
