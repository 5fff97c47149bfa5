"""Run a registered model's validation gates and store the report with the version.

The configuration is the model's (``client.set_model_gates``; its format is in
``client/gates.py``). Every gate gives a verdict with the numbers behind it (``checks``: name,
value, threshold, passed), so a refusal can be argued with. The model runs in a
:class:`~jupyter_mlops.registry.sandbox.ModelSandbox`: a crash or a hang is a finding, not
the end of the caller.

- **metrics**: each threshold on the holdout.
- **champion**: the paired bootstrap interval of (candidate - Production) at the configured
  confidence. The gate fails only when the whole interval lies below ``-max_drop``: a
  regression the holdout can tell from noise. A candidate equal within noise passes.
- **robustness**: probes built from the model's signature and its training data's profile
  (missing values, numbers far outside the training range, unseen categories, text in a
  numeric column); each must give finite predictions of the right length or a clear error
  (``ValueError``/``TypeError``/``KeyError`` with a message), never crash, hang, or answer NaN.
- **latency**: p95 of predict on ``batch_size`` rows over ``repeats`` calls, under budget.
- **fairness**: the gap between groups of a column in the share of positive predictions
  (demographic parity) or in the true positive rate (equal opportunity).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import views
from ..client.gates import CLASSIFICATION_METRICS, METRICS, config_sha256
from ..config import store_env
from ..entities import GateReport
from ..exceptions import InvalidInput, NotFound, shown
from . import stats
from .sandbox import ModelSandbox, Outcome

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client
    from ..entities import ModelVersion

PREDICT_TIMEOUT_S = 600.0
PROBE_TEXT = "not a number"
PROBE_CONTRACT = "finite predictions or a clear error"
UNSEEN = "__unseen_category__"


class ShownReport(GateReport):
    """A gate report that shows itself as a table in a notebook and in a terminal."""

    def _repr_html_(self) -> str:
        return views.gate_report_html(self)

    def __str__(self) -> str:
        return views.gate_report_text(self)


@dataclass
class Holdout:
    frame: pd.DataFrame
    info: dict[str, Any]


def _finite(value: Any) -> float | None:
    """A number a JSON report can hold (None for NaN or infinity)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _check(name: str, value: Any, threshold: str, passed: bool, note: str = "") -> dict[str, Any]:
    out = {"name": name, "value": _finite(value), "threshold": threshold, "passed": bool(passed)}
    if note:
        out["note"] = note
    return out


def _gate(gate: str, checks: list[dict[str, Any]], summary: str, **extra: Any) -> dict[str, Any]:
    return {
        "gate": gate,
        "passed": all(c["passed"] for c in checks),
        "summary": summary,
        "checks": checks,
        **extra,
    }


def _fmt(value: Any) -> str:
    number = _finite(value)
    return "n/a" if number is None else f"{number:.4g}"


# The holdout ----------------------------------------------------------------------------------
def load_holdout(client: Client, config: dict[str, Any], holdout: Any) -> Holdout | None:
    """The holdout the gates judge on: a DataFrame or a table file passed in (a file is known
    by its fingerprint), else the configured dataset version, whose file must still have the
    fingerprint recorded for that version."""
    import pandas as pd

    if isinstance(holdout, str | os.PathLike):
        from ..client.datasets import read_table
        from ..data.files import path_fingerprint

        path = os.fspath(holdout)
        if not os.path.isfile(path):
            raise NotFound(f"The holdout file {shown(path)} does not exist.")
        frame = read_table(path, "the holdout")
        info = {
            "ref": None,
            "path": path,
            "fingerprint": path_fingerprint(path),
            "rows": len(frame),
        }
        return Holdout(frame, info)
    if holdout is not None:
        if not isinstance(holdout, pd.DataFrame):
            raise InvalidInput(
                f"holdout must be a pandas DataFrame or a table file, got {type(holdout).__name__}."
            )
        from ..data import fingerprint

        info = {"ref": None, "fingerprint": fingerprint(holdout), "rows": len(holdout)}
        return Holdout(holdout, info)
    ref = config.get("holdout")
    if ref is None:
        return None
    frame, info = client.read_dataset_frame(
        ref, "the holdout", "pass the DataFrame (registry.validate(..., holdout=df))"
    )
    return Holdout(frame, info)


def feature_columns(
    signature: dict[str, Any] | None, frame: pd.DataFrame, target: str | None
) -> list[str]:
    """The columns the model takes: its signature's, else every column but the target."""
    inputs = (signature or {}).get("inputs") or {}
    named = [c["name"] for c in inputs.get("columns", []) if isinstance(c, dict)]
    if named:
        missing = [c for c in named if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"The holdout lacks column(s) the model was trained on: {', '.join(missing[:10])}."
            )
        return named
    return [c for c in frame.columns if c != target]


# The run ------------------------------------------------------------------------------------
class GateRun:
    """One validation of one version: the sandbox, the holdout and what was predicted."""

    def __init__(
        self, client: Client, version: ModelVersion, config: dict[str, Any], holdout: Holdout | None
    ) -> None:
        self.client = client
        self.version = version
        self.config = config
        self.holdout = holdout
        self.logged = client.get_logged_model(version.logged_model_id)
        self.uri = f"models:/{version.name}/{version.version}"
        self.box = ModelSandbox(store_env(client.location))
        self.target = config.get("target")
        self.features: list[str] = []
        self._predictions: dict[str, stats.Predictions | Outcome] = {}
        if holdout is not None:
            frame = holdout.frame
            if self.target is not None and self.target not in frame.columns:
                raise InvalidInput(
                    f"The holdout has no target column {shown(self.target)}; its columns are "
                    f"{', '.join(map(str, list(frame.columns)[:20]))}."
                )
            self.features = feature_columns(self.logged.signature, frame, self.target)

    def close(self) -> None:
        self.box.close()

    def _needs_data(self, gate: str) -> dict[str, Any] | None:
        if self.holdout is None:
            return _gate(
                gate,
                [_check("holdout", None, "a holdout dataset", False)],
                "no holdout: configure holdout: NAME@VERSION or pass holdout=DataFrame",
            )
        return None

    def predictions(self, key: str, uri: str) -> stats.Predictions | Outcome:
        """``uri``'s predictions on the holdout (an Outcome when loading or predicting failed)."""
        if key in self._predictions:
            return self._predictions[key]
        assert self.holdout is not None
        loaded = self.box.load(key, uri)
        if not loaded.ok:
            self._predictions[key] = loaded
            return loaded
        frame = self.holdout.frame
        outcome = self.box.predict(key, frame[self.features], PREDICT_TIMEOUT_S, proba=True)
        if not outcome.ok:
            self._predictions[key] = outcome
            return outcome
        pred, proba, classes = outcome.value
        y = frame[self.target].to_numpy() if self.target is not None else np.asarray(pred)
        positive = stats.infer_positive(y, self.config.get("positive"))
        pred = np.asarray(pred)
        if pred.ndim > 1:  # a (rows, 1) column of predictions
            pred = pred.reshape(len(frame), -1)[:, 0]
        result = stats.Predictions(np.asarray(y), pred, proba, classes, positive)
        if not stats.is_classifier(result.y, result.pred, classes):
            result.positive = None
        self._predictions[key] = result
        return result

    def _candidate(self) -> stats.Predictions | Outcome:
        return self.predictions("candidate", self.uri)

    # Gates ----------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        missing = self._needs_data("metrics")
        if missing:
            return missing
        p = self._candidate()
        if isinstance(p, Outcome):
            return _gate(
                "metrics",
                [_check("predict", None, "predictions on the holdout", False, p.describe())],
                f"the model could not predict the holdout: {p.describe()}",
            )
        checks = []
        for name, bound in self.config["metrics"].items():
            checks.append(self._threshold(name, bound, p))
        summary = "; ".join(f"{c['name']} {_fmt(c['value'])} {c['threshold']}" for c in checks)
        return _gate("metrics", checks, summary)

    def _threshold(
        self, name: str, bound: dict[str, float], p: stats.Predictions
    ) -> dict[str, Any]:
        text = " and ".join(f"{'>=' if k == 'min' else '<='} {v:g}" for k, v in bound.items())
        if name in CLASSIFICATION_METRICS and p.positive is None and p.classes is None:
            return _check(name, None, text, False, "a classification metric on a regression model")
        try:
            value = stats.point(name, p)
        except ValueError as exc:
            return _check(name, None, text, False, str(exc))
        ok = (
            math.isfinite(value)
            and value >= bound.get("min", -math.inf)
            and value <= bound.get("max", math.inf)
        )
        return _check(name, value, text, ok)

    def champion(self) -> dict[str, Any]:
        missing = self._needs_data("champion")
        if missing:
            return missing
        cfg = self.config["champion"]
        name = cfg["metric"]
        try:
            current = self.client.resolve_model_uri(f"models:/{self.version.name}/Production")
        except NotFound:
            current = None
        if current is None or current.version == self.version.version:
            who = (
                "no version is in Production" if current is None else "this version is the champion"
            )
            return _gate(
                "champion",
                [_check("champion", None, "a Production version to compare with", True, who)],
                f"{who}: nothing to compare with",
                champion=None,
            )
        challenger = self._candidate()
        champion = self.predictions("champion", f"models:/{current.name}/{current.version}")
        if isinstance(challenger, Outcome) or isinstance(champion, Outcome):
            failed = challenger if isinstance(challenger, Outcome) else champion
            assert isinstance(failed, Outcome)
            which = "candidate" if failed is challenger else f"champion (version {current.version})"
            return _gate(
                "champion",
                [_check("predict", None, "predictions on the holdout", False, failed.describe())],
                f"the {which} could not predict the holdout: {failed.describe()}",
            )
        higher = METRICS[name]
        try:
            d = stats.paired_difference(
                name, challenger, champion, cfg["resamples"], cfg["confidence"]
            )
        except ValueError as exc:
            return _gate("champion", [_check(name, None, "comparable", False, str(exc))], str(exc))
        # Oriented so that positive is better, whichever way the metric points.
        gain_low, gain_high = (d.low, d.high) if higher else (-d.high, -d.low)
        drop = cfg["max_drop"]
        passed = math.isfinite(gain_high) and gain_high >= -drop
        level = f"{cfg['confidence']:.0%}"
        verdict = (
            "significantly worse"
            if not passed
            else "better"
            if gain_low > 0
            else "no significant difference"
        )
        checks = [
            _check(f"{name} (candidate)", d.challenger, "", True),
            _check(f"{name} (champion v{current.version})", d.champion, "", True),
            _check(f"{name} difference", d.diff, "", True),
            _check(f"{level} interval low", d.low, "", True),
            _check(f"{level} interval high", d.high, "", True),
            _check(
                "improvement upper bound",
                gain_high,
                f">= {-drop:g}" if drop else ">= 0",
                passed,
                verdict,
            ),
        ]
        summary = (
            f"{name} {_fmt(d.challenger)} vs {_fmt(d.champion)} (v{current.version}): "
            f"difference {_fmt(d.diff)}, {level} CI [{_fmt(d.low)}, {_fmt(d.high)}] over "
            f"{d.resamples} resamples: {verdict}"
        )
        return _gate("champion", checks, summary, champion=current.version)

    def _probe_frames(self, base: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
        """(probe kind, what it does, the batch) for each configured probe and column."""
        import pandas as pd

        ranges = self._training_ranges()
        wanted = set(self.config["robustness"]["probes"])
        probes: list[tuple[str, str, pd.DataFrame]] = []
        numeric = [
            c
            for c in self.features
            if pd.api.types.is_numeric_dtype(base[c]) and not pd.api.types.is_bool_dtype(base[c])
        ]
        other = [c for c in self.features if c not in numeric]
        for column in self.features:
            if "missing" in wanted:
                frame = base.copy()
                frame[column] = np.nan if column in numeric else None
                probes.append(("missing", f"{column} missing", frame))
        for column in numeric:
            if "out_of_range" in wanted:
                low, high = ranges.get(column) or (
                    float(base[column].min()),
                    float(base[column].max()),
                )
                span = (high - low) or max(abs(high), 1.0)
                frame = base.copy().astype({column: float})
                frame[column] = [high + 100 * span, low - 100 * span] * (len(frame) // 2) + [
                    high + 100 * span
                ] * (len(frame) % 2)
                probes.append(
                    ("out_of_range", f"{column} 100 ranges outside [{low:.4g}, {high:.4g}]", frame)
                )
            if "wrong_dtype" in wanted:
                frame = base.copy().astype({column: object})
                frame[column] = PROBE_TEXT
                probes.append(("wrong_dtype", f"{column} as text {PROBE_TEXT!r}", frame))
        for column in other:
            if "unseen_category" in wanted:
                frame = base.copy().astype({column: object})
                frame[column] = UNSEEN
                probes.append(("unseen_category", f"{column} = {UNSEEN!r}", frame))
        return probes

    def _training_ranges(self) -> dict[str, tuple[float, float]]:
        """min and max of each numeric column in the run's training data profiles."""
        out: dict[str, tuple[float, float]] = {}
        try:
            run = self.client.get_run(self.version.run_id)
        except NotFound:
            return out
        for dataset in run.inputs:
            for column in (dataset.profile or {}).get("columns", []):
                low, high = column.get("min"), column.get("max")
                if isinstance(low, int | float) and isinstance(high, int | float):
                    out.setdefault(str(column.get("name")), (float(low), float(high)))
        return out

    def robustness(self) -> dict[str, Any]:
        missing = self._needs_data("robustness")
        if missing:
            return missing
        cfg = self.config["robustness"]
        assert self.holdout is not None
        base = self.holdout.frame[self.features].head(cfg["rows"]).reset_index(drop=True)
        loaded = self.box.load("candidate", self.uri)
        if not loaded.ok:
            return _gate(
                "robustness",
                [_check("load", None, "the model loads", False, loaded.describe())],
                f"the model did not load: {loaded.describe()}",
            )
        checks = []
        # A model that killed or stalled the sandbox on one kind of probe would do it again
        # on the next column: each costs a restart (and a timeout), so the rest of that kind
        # are recorded as not run.
        broken: dict[str, str] = {}
        for kind, what, frame in self._probe_frames(base):
            if kind in broken:
                note = f"not run: the model already {broken[kind]} on a {kind} probe"
                checks.append(_check(f"{kind}: {what}", None, PROBE_CONTRACT, False, note))
                continue
            outcome = self.box.predict("candidate", frame, cfg["timeout_s"])
            checks.append(self._probe_check(kind, what, frame, outcome))
            if outcome.status in ("crashed", "hung"):
                broken[kind] = "hung" if outcome.status == "hung" else "crashed"
        failed = [c for c in checks if not c["passed"]]
        summary = (
            f"{len(checks) - len(failed)} of {len(checks)} probes answered or refused cleanly"
            + (
                f"; failed: {'; '.join(c['name'] + ' → ' + c['note'] for c in failed[:3])}"
                if failed
                else ""
            )
        )
        return _gate("robustness", checks, summary)

    @staticmethod
    def _probe_check(kind: str, what: str, frame: pd.DataFrame, outcome: Outcome) -> dict[str, Any]:
        threshold = PROBE_CONTRACT
        name = f"{kind}: {what}"
        if outcome.ok:
            pred = np.asarray(outcome.value[0])
            if pred.shape[:1] != (len(frame),):
                return _check(
                    name, None, threshold, False, f"answered {pred.shape[:1]} rows for {len(frame)}"
                )
            if pred.dtype.kind in "fc" and not np.all(np.isfinite(pred)):
                return _check(
                    name, None, threshold, False, "answered NaN or infinity without an error"
                )
            return _check(name, None, threshold, True, "predicted")
        if outcome.clear_error:
            return _check(name, None, threshold, True, outcome.describe())
        if outcome.status == "error":
            return _check(name, None, threshold, False, f"crashed: {outcome.describe()}")
        return _check(name, None, threshold, False, outcome.describe())

    def latency(self) -> dict[str, Any]:
        missing = self._needs_data("latency")
        if missing:
            return missing
        cfg = self.config["latency"]
        assert self.holdout is not None
        frame = self.holdout.frame[self.features]
        batch = frame.sample(
            n=cfg["batch_size"], replace=len(frame) < cfg["batch_size"], random_state=0
        )
        loaded = self.box.load("candidate", self.uri)
        if not loaded.ok:
            return _gate(
                "latency",
                [_check("load", None, "the model loads", False, loaded.describe())],
                f"the model did not load: {loaded.describe()}",
            )
        budget = cfg["p95_ms"]
        # A model 20 times over budget on every call is not worth waiting for.
        timeout = max(30.0, cfg["repeats"] * budget / 1000 * 20)
        outcome = self.box.time_predict("candidate", batch, cfg["repeats"], timeout)
        if not outcome.ok:
            return _gate(
                "latency",
                [_check("p95 ms", None, f"<= {budget:g}", False, outcome.describe())],
                f"timing failed: {outcome.describe()}",
            )
        ms = np.asarray(outcome.value) * 1000
        p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99))
        checks = [
            _check("p50 ms", p50, "", True),
            _check("p95 ms", p95, f"<= {budget:g}", p95 <= budget),
            _check("p99 ms", p99, "", True),
            _check("calls", len(ms), "", True),
        ]
        summary = (
            f"p95 {p95:.3g} ms for {cfg['batch_size']} row(s) over {len(ms)} calls "
            f"(budget {budget:g} ms)"
        )
        return _gate("latency", checks, summary, batch_size=cfg["batch_size"])

    def fairness(self) -> dict[str, Any]:
        missing = self._needs_data("fairness")
        if missing:
            return missing
        cfg = self.config["fairness"]
        assert self.holdout is not None
        column = cfg["column"]
        if column not in self.holdout.frame.columns:
            return _gate(
                "fairness",
                [_check(column, None, "a column of the holdout", False)],
                f"the holdout has no column {column!r}",
            )
        p = self._candidate()
        if isinstance(p, Outcome):
            return _gate(
                "fairness",
                [_check("predict", None, "predictions on the holdout", False, p.describe())],
                f"the model could not predict the holdout: {p.describe()}",
            )
        if p.positive is None:
            return _gate(
                "fairness",
                [
                    _check(
                        cfg["metric"],
                        None,
                        "a binary classifier",
                        False,
                        "set positive: in the gates for a multi-class model",
                    )
                ],
                "fairness needs a positive class",
            )
        if cfg["metric"] == "equal_opportunity" and self.target is None:
            return _gate(
                "fairness",
                [_check(cfg["metric"], None, "labels", False)],
                "equal opportunity needs the target column",
            )
        rates = stats.group_rates(self.holdout.frame[column].to_numpy(), p, cfg["metric"])
        valid = [r for r, n in rates.values() if n and math.isfinite(r)]
        gap = max(valid) - min(valid) if len(valid) >= 2 else 0.0
        what = "positive rate" if cfg["metric"] == "demographic_parity" else "true positive rate"
        checks = [
            _check(f"{what} | {column}={g}", r, f"n={n}", True)
            for g, (r, n) in sorted(rates.items())
        ]
        ok = gap <= cfg["max_gap"]
        checks.append(_check(f"{cfg['metric']} difference", gap, f"<= {cfg['max_gap']:g}", ok))
        summary = (
            f"{cfg['metric'].replace('_', ' ')} difference {gap:.3g} across {len(rates)} "
            f"groups of {column} (max {cfg['max_gap']:g})"
        )
        return _gate(
            "fairness",
            checks,
            summary,
            groups={g: {"rate": _finite(r), "rows": n} for g, (r, n) in rates.items()},
        )


GATES: tuple[tuple[str, Callable[[GateRun], dict[str, Any]]], ...] = (
    ("metrics", GateRun.metrics),
    ("champion", GateRun.champion),
    ("robustness", GateRun.robustness),
    ("latency", GateRun.latency),
    ("fairness", GateRun.fairness),
)


def validate(
    client: Client,
    name: str,
    version: int | str,
    *,
    holdout: Any = None,
    progress: bool = False,
    actor: str | None = None,
) -> ShownReport:
    """Run ``name``'s validation gates on ``version`` and store the report with it (see the
    module's docstring).

    ``holdout``: a DataFrame to judge on instead of the configured dataset version. The
    model runs in a child process; ``progress`` shows a bar per gate (tqdm)."""
    model = client.get_registered_model(name)
    config = model.gates
    if not config:
        raise InvalidInput(
            f"Model {shown(name)} has no gates to validate against: configure them with "
            f"jupyter-mlops models gates {name} --set gates.yaml (or client.set_model_gates)."
        )
    found = client.get_model_version(name, version)
    started = time.perf_counter()
    data = load_holdout(client, config, holdout)
    gates = [(gate, fn) for gate, fn in GATES if config.get(gate)]
    results = []
    run = GateRun(client, found, config, data)
    from tqdm.auto import tqdm

    try:
        with tqdm(
            total=len(gates),
            desc=f"gates {name}/{found.version}",
            disable=not progress,
            leave=False,
        ) as bar:
            for gate, fn in gates:
                bar.set_postfix_str(gate)
                results.append(fn(run))
                bar.update()
    finally:
        run.close()
    report = {
        "model": {"name": found.name, "version": found.version, "sha256": found.sha256},
        "holdout": None if data is None else data.info,
        "config_sha256": config_sha256(config),
        "duration_s": round(time.perf_counter() - started, 3),
        "gates": results,
    }
    saved = client.save_gate_report(
        found.name,
        found.version,
        report,
        model_sha256=found.sha256,
        config_sha256=config_sha256(config),
        actor=actor,
    )
    return ShownReport(**vars(saved))
