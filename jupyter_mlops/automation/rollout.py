"""Judge a candidate on trial against the champion from what the servers recorded since the
trial began: error rate, p95 latency and, once labels arrive, accuracy. Worse by more than
the rollout policy's margins is a rollback; enough requests and no worse is a promotion;
too few requests by the timeout is the policy's ``on_timeout`` (a rollback by default: the
candidate was not shown to be safe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.ct_config import RolloutPolicy
from ..client.serving import OUTPUT_PREFIX

if TYPE_CHECKING:
    import pyarrow as pa

    from ..client import Client
    from ..entities import Rollout


@dataclass
class Arm:
    """One side of the trial."""

    version: int | None
    requests: int = 0
    errors: int = 0
    p95_ms: float | None = None
    labelled: int = 0
    accuracy: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass
class Verdict:
    action: str  # wait, promote, rollback
    reason: str
    champion: Arm
    candidate: Arm

    def stats(self) -> dict[str, Any]:
        return {
            "champion": {**asdict(self.champion), "error_rate": self.champion.error_rate},
            "candidate": {**asdict(self.candidate), "error_rate": self.candidate.error_rate},
            "verdict": self.action,
            "reason": self.reason,
        }


def _arm(table: pa.Table, labels: dict[tuple[str, int], Any], version: int | None) -> Arm:
    import pyarrow.compute as pc

    arm = Arm(version)
    if version is None or table.num_rows == 0:
        return arm
    mine = table.filter(pc.equal(table.column("version"), version))
    if mine.num_rows == 0:
        return arm
    ids = mine.column("request_id").to_pylist()
    statuses = np.asarray(mine.column("status").to_pylist())
    first: dict[str, int] = {}
    for i, rid in enumerate(ids):
        first.setdefault(rid, i)
    rows = np.fromiter(first.values(), dtype=np.int64)
    arm.requests = len(rows)
    arm.errors = int((statuses[rows] >= 500).sum())
    latency = np.asarray(mine.column("latency_ms").to_pylist(), dtype=float)[rows]
    ok = statuses[rows] < 400
    if ok.any():
        arm.p95_ms = float(np.percentile(latency[ok], 95))
    predicted = OUTPUT_PREFIX + "prediction"
    if labels and predicted in mine.column_names:
        pred = mine.column(predicted).to_pylist()
        row = mine.column("row").to_pylist()
        hits = total = 0
        for i, rid in enumerate(ids):
            key = (rid, row[i])
            if key in labels and pred[i] is not None:
                total += 1
                hits += _same(pred[i], labels[key])
        arm.labelled = total
        arm.accuracy = hits / total if total else None
    return arm


def _same(predicted: Any, label: Any) -> bool:
    if isinstance(predicted, str) or isinstance(label, str):
        return str(predicted) == str(label)
    try:
        return bool(float(predicted) == float(label))
    except (TypeError, ValueError):
        return False


def judge(client: Client, rollout: Rollout, now: int) -> Verdict:
    """Compare the two arms of ``rollout`` on the traffic recorded since it started."""
    policy = RolloutPolicy.from_dict(rollout.criteria)
    table = client.read_predictions(rollout.name, since=rollout.started_at, shadow=None)
    label_table = client.read_labels(rollout.name, since=rollout.started_at)
    labels = {
        (r, int(w)): v
        for r, w, v in zip(
            label_table.column("request_id").to_pylist(),
            label_table.column("row").to_pylist(),
            label_table.column("label").to_pylist(),
            strict=True,
        )
    }
    champion = _arm(table, labels, rollout.champion)
    candidate = _arm(table, labels, rollout.candidate)

    def verdict(action: str, reason: str) -> Verdict:
        return Verdict(action, reason, champion, candidate)

    if candidate.requests >= 1 and champion.requests >= 1:
        worse = candidate.error_rate - champion.error_rate
        if worse > policy.max_error_rate_increase:
            return verdict(
                "rollback",
                f"error rate {candidate.error_rate:.2%} against the champion's "
                f"{champion.error_rate:.2%} (at most +{policy.max_error_rate_increase:.2%}) "
                f"over {candidate.requests} requests",
            )
    if candidate.requests < policy.min_requests:
        if now - rollout.started_at >= policy.timeout_ms:
            action = "rollback" if policy.on_timeout == "rollback" else "promote"
            return verdict(
                action,
                f"only {candidate.requests} of the {policy.min_requests} requests needed "
                f"within {policy.timeout}",
            )
        return verdict("wait", f"{candidate.requests} of {policy.min_requests} requests so far")
    if candidate.p95_ms is not None and champion.p95_ms is not None:
        limit = champion.p95_ms * (1 + policy.max_latency_increase)
        if candidate.p95_ms > limit:
            return verdict(
                "rollback",
                f"p95 latency {candidate.p95_ms:.2f} ms against the champion's "
                f"{champion.p95_ms:.2f} ms (at most {limit:.2f} ms)",
            )
    quality = "quality not judged (too few labels)"
    if (
        candidate.accuracy is not None
        and champion.accuracy is not None
        and min(candidate.labelled, champion.labelled) >= policy.min_labels
    ):
        if candidate.accuracy < champion.accuracy - policy.max_quality_drop:
            return verdict(
                "rollback",
                f"accuracy {candidate.accuracy:.3f} against the champion's "
                f"{champion.accuracy:.3f} (at most -{policy.max_quality_drop:g}) on "
                f"{candidate.labelled} labelled rows",
            )
        quality = f"accuracy {candidate.accuracy:.3f} vs {champion.accuracy:.3f}"
    return verdict(
        "promote",
        f"no worse than the champion over {candidate.requests} requests: error rate "
        f"{candidate.error_rate:.2%} vs {champion.error_rate:.2%}, p95 "
        f"{_ms(candidate.p95_ms)} vs {_ms(champion.p95_ms)}, {quality}",
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def cancel(client: Client, name: str, reason: str, actor: str | None = None) -> Rollout | None:
    """End ``name``'s trial now, the champion kept, and the loop that started it with it
    (outcome ``cancelled``); None when nothing was on trial. Audited."""
    active = client.active_rollout(name)
    if active is None:
        return None
    ended = client.end_rollout(active.id, "cancelled", reason, stats=active.stats, actor=actor)
    if ended is not None and ended.loop_id is not None:
        client.update_ct_loop(
            ended.loop_id, ("rollout",), step="cancelled",
            summary=f"the trial of version {ended.candidate} was cancelled: {reason}",
            state="done", outcome="cancelled", reason=reason,
        )  # fmt: skip
    return ended
