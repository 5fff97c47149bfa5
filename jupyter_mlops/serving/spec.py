"""What a served model takes, and how a request's values become its input.

:class:`InputSpec` is read once, when a version is loaded: the columns in the order the model
was trained on (from its signature), what kind of value each holds, whether the model takes
missing values, and whether it needs a DataFrame. A model trained on a numpy array, or on a
frame of numbers it reads by position (most estimators), gets a float array built straight
from the body in signature order: no pandas on the hot path. Only a model that reads columns
by name or holds text (a ``ColumnTransformer``, a string column) gets a DataFrame, built from
one numpy array per column.

Every check names the problem (the column, the row, the value), so a client fixes its request
from the message alone; nothing from a request is ever unpickled or evaluated.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInput, shown

# Rows one request may carry (the body-size limit usually says no first).
MAX_ROWS = 100_000
NUMERIC = frozenset({"float", "int", "bool"})
_NUMBER = (int, float)
_KIND_TEXT = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "str": "text",
    "any": "a number or text",
}


def kind_of(dtype: str) -> str:
    """A column's kind from a dtype as pandas or numpy spell it (``float64``, ``Int32``,
    ``str``, ``category``...); ``any`` when unknown."""
    d = dtype.lower()
    if d.startswith(("float", "double")):
        return "float"
    if d.startswith(("int", "uint")):
        return "int"
    if d in ("bool", "boolean"):
        return "bool"
    if d in ("object", "category", "str") or d.startswith("string"):
        return "str"
    return "any"


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, _NUMBER):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # float | int | bool | str | any


@dataclass(frozen=True)
class InputSpec:
    """The inputs of one model version.

    ``columns`` in training order (None: an unnamed array of ``n_features`` values per row);
    ``frame``: build a DataFrame (else a float array); ``allow_nan``: missing values
    (``null``, ``NaN``, an empty CSV cell) are passed on rather than refused.
    """

    columns: tuple[Column, ...] | None
    n_features: int | None
    frame: bool
    allow_nan: bool

    @functools.cached_property
    def names(self) -> list[str]:
        """The column names in signature order (positions for an unnamed array); built
        once: every request reads them, and the recorder keeps them."""
        if self.columns is not None:
            return [c.name for c in self.columns]
        return [str(i) for i in range(self.n_features or 0)]

    @property
    def width(self) -> int | None:
        return len(self.columns) if self.columns is not None else self.n_features

    @property
    def all_float(self) -> bool:
        return self.columns is None or all(c.kind == "float" for c in self.columns)

    @property
    def numeric(self) -> bool:
        return self.columns is None or all(c.kind in NUMERIC for c in self.columns)

    def describe(self) -> list[dict[str, str]]:
        """The columns as the OpenAPI document and ``/v2/models/<name>`` show them."""
        if self.columns is None:
            return [{"name": n, "kind": "float"} for n in self.names]
        return [{"name": c.name, "kind": c.kind} for c in self.columns]

    # -- from a request ---------------------------------------------------------------------

    def from_rows(self, rows: Any, names: Sequence[Any] | None = None) -> Any:
        """Rows of values (``dataframe_split.data``, ``instances``), in the order of
        ``names`` (the body's columns) or, without names, in signature order."""
        if not isinstance(rows, list):
            raise InvalidInput(f"The rows must be a list of lists, got {_type_name(rows)}.")
        _check_count(len(rows))
        order = self._order(names)
        width = len(order)
        if self.all_float and not self.frame and order == list(range(width)):
            fast = _fast_numeric(rows, width)
            if fast is not None:
                return self._finish_array(fast)
        columns: list[list[Any]] = [[] for _ in range(width)]
        for r, row in enumerate(rows):
            if not isinstance(row, list):
                raise InvalidInput(f"Row {r} must be a list of values, got {_type_name(row)}.")
            if len(row) != width:
                raise InvalidInput(f"Row {r} has {len(row)} values; the model takes {width}.")
            for j, value in enumerate(row):
                columns[j].append(value)
        by_name = {self.names[order[j]]: columns[j] for j in range(width)}
        return self.from_columns(by_name, rows=len(rows))

    def from_records(self, records: Any) -> Any:
        """A list of ``{column: value}`` objects (``dataframe_records``)."""
        if not isinstance(records, list):
            raise InvalidInput(f"The records must be a list of objects, got {_type_name(records)}.")
        _check_count(len(records))
        names = self.names
        known = set(names)
        columns: dict[str, list[Any]] = {n: [] for n in names}
        for r, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidInput(f"Record {r} must be an object, got {_type_name(record)}.")
            if record.keys() != known:
                self._check_names(list(record), f"Record {r}")
            for n in names:
                columns[n].append(record[n])
        return self.from_columns(columns, rows=len(records))

    def from_columns(self, columns: Mapping[str, Any], rows: int | None = None) -> Any:
        """One list of values per column (a columnar ``inputs`` object, OIP inputs)."""
        if not isinstance(columns, Mapping):
            raise InvalidInput(f"The columns must be an object, got {_type_name(columns)}.")
        self._check_names(list(columns), "The request")
        counts = set()
        for name in self.names:
            values = columns[name]
            if not isinstance(values, list):
                raise InvalidInput(
                    f"Column {shown(name)} must be a list of values, got {_type_name(values)}."
                )
            counts.add(len(values))
        if len(counts) > 1:
            raise InvalidInput(f"The columns have different lengths: {sorted(counts)}.")
        n = counts.pop() if counts else 0 if rows is None else rows
        _check_count(n)
        if self.frame:
            return self._frame({c.name: self._array(c, columns[c.name]) for c in self._cols()})
        out = np.empty((n, len(self.names)), dtype=np.float64)
        for j, col in enumerate(self._cols()):
            out[:, j] = self._array(col, columns[col.name])
        return out

    def from_matrix(self, values: Any) -> Any:
        """A 2-D array of numbers in signature order (an OIP tensor, already shaped)."""
        if not self.numeric:
            raise InvalidInput(
                "This model takes named columns of different kinds: send one input per column."
            )
        matrix = np.asarray(values, dtype=np.float64)
        if matrix.ndim != 2 or (self.width is not None and matrix.shape[1] != self.width):
            raise InvalidInput(
                f"The input has shape {list(matrix.shape)}; the model takes [rows, {self.width}]."
            )
        _check_count(matrix.shape[0])
        self._check_finite(None, matrix)
        if self.frame:
            return self._frame({c.name: matrix[:, j] for j, c in enumerate(self._cols())})
        return matrix

    # -- helpers ----------------------------------------------------------------------------

    def _cols(self) -> tuple[Column, ...]:
        if self.columns is not None:
            return self.columns
        return tuple(Column(n, "float") for n in self.names)

    def _order(self, names: Sequence[Any] | None) -> list[int]:
        """For each column of the body, its position in the signature."""
        if names is None:
            return list(range(self.width or 0))
        if not isinstance(names, list) or not all(isinstance(n, str | int) for n in names):
            raise InvalidInput("columns must be a list of column names.")
        texts = [str(n) for n in names]
        self._check_names(texts, "The request")
        if len(set(texts)) != len(texts):
            raise InvalidInput("columns names a column more than once.")
        index = {n: i for i, n in enumerate(self.names)}
        return [index[n] for n in texts]

    def _check_names(self, given: list[str], where: str) -> None:
        if self.columns is None and self.n_features is None:
            return
        expected = self.names
        if given == expected:
            return
        given_set, expected_set = set(given), set(expected)
        missing = [n for n in expected if n not in given_set]
        extra = [n for n in given if n not in expected_set]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks column(s) {', '.join(shown(n) for n in missing[:20])}")
            if extra:
                parts.append(f"has unknown column(s) {', '.join(shown(n) for n in extra[:20])}")
            raise InvalidInput(
                f"{where} {' and '.join(parts)}; the model takes "
                f"{', '.join(expected[:50])}{'…' if len(expected) > 50 else ''}."
            )

    def _array(self, col: Column, values: list[Any]) -> np.ndarray:
        """One column's values, checked against its kind, as a numpy array."""
        kind = col.kind
        missing_ok = self.allow_nan
        for r, v in enumerate(values):
            t = type(v)
            if kind == "float":
                ok = t in _NUMBER or (v is None and missing_ok)
            elif kind == "int":
                ok = t is int or (t is float and v.is_integer()) or (v is None and missing_ok)
            elif kind == "bool":
                ok = t is bool or (t is int and v in (0, 1))
            else:  # text, or anything scalar
                ok = t is str or (kind == "any" and t in _NUMBER) or (v is None and missing_ok)
            if not ok:
                self._refuse(col, r, v)
        if kind == "bool":
            return np.asarray(values, dtype=bool)
        if kind not in NUMERIC:
            _check_utf8(col, values)
            return np.asarray(values, dtype=object)
        try:
            array = np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
        except OverflowError:  # a whole number beyond any float (JSON allows 4,300 digits)
            row = next(r for r, v in enumerate(values) if type(v) is int and not _fits_float(v))
            raise InvalidInput(
                f"Column {shown(col.name)}, row {row}: the number is too large."
            ) from None
        self._check_finite(col.name, array)
        if kind == "int" and self.frame and not np.isnan(array).any():
            if np.abs(array).max(initial=0) >= 2.0**63:
                row = int(np.argmax(np.abs(array) >= 2.0**63))
                raise InvalidInput(f"Column {shown(col.name)}, row {row}: the number is too large.")
            return array.astype(np.int64)
        return array

    def _refuse(self, col: Column, row: int, value: Any) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise InvalidInput(
                f"Column {shown(col.name)}, row {row}: a missing value, and this model does not "
                "take missing values."
            )
        raise InvalidInput(
            f"Column {shown(col.name)}, row {row}: expected {_KIND_TEXT[col.kind]}, got "
            f"{shown(value)} ({_type_name(value)})."
        )

    def _check_finite(self, name: str | None, array: np.ndarray) -> None:
        """Refuse NaN (unless the model takes missing values) and infinities, naming the
        first one's column and row."""
        if np.isfinite(array).all():
            return
        for bad, what in (
            (
                None if self.allow_nan else np.isnan(array),
                "a missing value (NaN), and this model does not take missing values",
            ),
            (np.isinf(array), "the value is infinite"),
        ):
            if bad is None or not bad.any():
                continue
            at = np.argwhere(bad)[0]
            column = name if name is not None else self.names[int(at[1])]
            raise InvalidInput(f"Column {shown(column)}, row {int(at[0])}: {what}.")

    def _finish_array(self, array: np.ndarray) -> np.ndarray:
        self._check_finite(None, array)
        return array

    def _frame(self, columns: dict[str, np.ndarray]) -> Any:
        import pandas as pd

        return pd.DataFrame(columns, copy=False)


def _check_utf8(col: Column, values: list[Any]) -> None:
    """Text a JSON escape made of a lone surrogate cannot be stored or shown: refuse it."""
    for r, v in enumerate(values):
        if type(v) is str and not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(
                    f"Column {shown(col.name)}, row {r}: the text is not valid Unicode."
                ) from None


def _check_count(rows: int) -> None:
    if rows == 0:
        raise InvalidInput("The request holds no rows.")
    if rows > MAX_ROWS:
        raise InvalidInput(f"The request holds {rows} rows; at most {MAX_ROWS} at a time.")


def _fast_numeric(rows: list[Any], width: int) -> np.ndarray | None:
    """Rows of plain numbers as a float array, or None when any row is not that (the slow
    path then names the problem). ``bool`` is not a number here: ``type`` is checked, not
    ``isinstance``."""
    number = _NUMBER
    for row in rows:
        if type(row) is not list or len(row) != width:
            return None
        for v in row:
            if type(v) not in number:
                return None
    try:
        return np.array(rows, dtype=np.float64)
    except OverflowError:  # the slow path names the column and row
        return None


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def spec_for(model: Any, signature: Mapping[str, Any] | None) -> InputSpec:
    """The inputs of ``model``, from its recorded signature and what it says of itself.

    A model fitted on a DataFrame of numbers that reads them by position gets arrays: it is
    tried once on a row of zeros both ways, and arrays are kept only if it answers the same.
    """
    inputs = (signature or {}).get("inputs") or {}
    names: list[str] | None = None
    kinds: list[str] = []
    n_features: int | None = None
    if inputs.get("type") == "dataframe" and inputs.get("columns"):
        names = [str(c["name"]) for c in inputs["columns"]]
        kinds = [kind_of(str(c.get("dtype", "unknown"))) for c in inputs["columns"]]
    elif inputs.get("type") == "ndarray":
        shape = inputs.get("shape") or []
        n_features = int(shape[1]) if len(shape) == 2 and int(shape[1]) > 0 else None
        if inputs.get("names"):
            names = [str(n) for n in inputs["names"]]
            kinds = ["float"] * len(names)
    if names is None:
        fitted = getattr(model, "feature_names_in_", None)
        if fitted is not None:
            names = [str(n) for n in fitted]
            kinds = ["any"] * len(names)
        elif n_features is None and getattr(model, "n_features_in_", None) is not None:
            n_features = int(model.n_features_in_)
    allow_nan = _allows_nan(model)
    if names is None:
        return InputSpec(None, n_features, frame=False, allow_nan=allow_nan)
    fitted_on_frame = getattr(model, "feature_names_in_", None) is not None or (
        inputs.get("type") == "dataframe"
    )
    if "any" in kinds:
        kinds = ["float" if k == "any" and _takes_numbers(model, names) else k for k in kinds]
    columns = tuple(Column(n, k) for n, k in zip(names, kinds, strict=True))
    spec = InputSpec(columns, len(columns), frame=fitted_on_frame, allow_nan=allow_nan)
    if spec.frame and spec.numeric and _positional(model, spec):
        return InputSpec(columns, len(columns), frame=False, allow_nan=allow_nan)
    return spec


def _allows_nan(model: Any) -> bool:
    """What the model's library says of missing values (scikit-learn's input tags; xgboost
    and lightgbm take them by design)."""
    module = type(model).__module__.partition(".")[0]
    if module in ("xgboost", "lightgbm"):
        return True
    tags = getattr(model, "__sklearn_tags__", None)
    if tags is not None:
        try:
            return bool(tags().input_tags.allow_nan)
        except Exception:
            return False
    return False


def _zeros_frame(names: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({n: np.zeros(2) for n in names})


def _takes_numbers(model: Any, names: list[str]) -> bool:
    """Whether a model of unknown column types predicts on a frame of numbers."""
    try:
        model.predict(_zeros_frame(names))
    except Exception:
        return False
    return True


def _positional(model: Any, spec: InputSpec) -> bool:
    """Whether a model fitted on a frame of numbers answers an array the same: then it reads
    columns by position, and the hot path skips pandas."""
    frame = _zeros_frame(spec.names)
    frame.iloc[1] = 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_name = np.asarray(model.predict(frame))
            by_position = np.asarray(model.predict(frame.to_numpy()))
    except Exception:
        return False
    return by_name.shape == by_position.shape and bool(np.all(by_name == by_position))
