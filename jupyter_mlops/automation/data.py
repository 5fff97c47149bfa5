"""What a retrain trains on: the newest version of a named dataset, or the recorded traffic
of a window joined with the labels that arrived for it, written to a file the retraining
pipeline reads (its path is the pipeline parameter the policy names)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client.ct_config import ALERT_WINDOWS, DataSource
from ..client.monitor_config import parse_duration
from ..client.serving import INPUT_PREFIX
from ..exceptions import InvalidInput, NotFound, shown

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client

DEFAULT_TARGET = "label"
DAY_MS = 86_400_000


def target_of(client: Client, name: str, source: DataSource) -> str:
    """The label column's name: the policy's, else the gates' target, else ``label``."""
    if source.target:
        return source.target
    gates = client.get_registered_model(name).gates or {}
    return str(gates.get("target") or DEFAULT_TARGET)


def traffic_frame(client: Client, name: str, since: int, target: str) -> pd.DataFrame:
    """The requests ``name`` answered since ``since`` (ms) that have a label: their inputs
    (columns named as the model takes them) and the label as ``target``; shadow answers and
    refused requests left out."""
    import pandas as pd
    import pyarrow.compute as pc

    table = client.read_predictions(name, since=since)
    labels = client.read_labels(name, since=since)
    if table.num_rows == 0 or labels.num_rows == 0:
        return pd.DataFrame()
    table = table.filter(pc.equal(table.column("status"), 200))
    inputs = [c for c in table.column_names if c.startswith(INPUT_PREFIX)]
    frame = table.select(["request_id", "row", *inputs]).to_pandas()
    frame = frame.rename(columns={c: c[len(INPUT_PREFIX) :] for c in inputs})
    if target in frame.columns:
        raise InvalidInput(f"The label column {shown(target)} is also one of the model's inputs.")
    found = labels.to_pandas()[["request_id", "row", "label"]].rename(columns={"label": target})
    found = found.drop_duplicates(["request_id", "row"], keep="last")
    joined = frame.drop_duplicates(["request_id", "row"]).merge(found, on=["request_id", "row"])
    return joined.drop(columns=["request_id", "row"]).reset_index(drop=True)


def alert_windows(trigger: dict[str, Any]) -> tuple[int, int, int] | None:
    """The run of windows that raised an alert: (its start, the window's size, how many
    windows), from the alert's last window and its levels; None for another trigger."""
    start, end = trigger.get("window_start"), trigger.get("window_end")
    if not isinstance(start, int) or not isinstance(end, int) or end <= start:
        return None
    loud = 0
    for level in reversed(list(trigger.get("levels") or [])):
        if level != "alert":
            break
        loud += 1
    size = end - start
    return end - max(1, loud) * size, size, max(1, loud)


def traffic_since(source: DataSource, trigger: dict[str, Any], now: int) -> int:
    """Where the traffic to train on starts: the policy's span back from now, or with
    ``traffic: alert`` the windows that raised the alert but the first of them when there
    are several (it may straddle the drift's onset: a retrain on a mix of before and after
    learns neither, and its monitoring reference would flag the new traffic as drifted). A
    retrain no alert started takes the last day."""
    assert source.traffic is not None
    if source.traffic != ALERT_WINDOWS:
        return now - parse_duration(source.traffic)
    windows = alert_windows(trigger)
    if windows is None:
        return now - DAY_MS
    onset, size, count = windows
    return onset + size if count > 1 else onset


def resolve_data(
    client: Client,
    name: str,
    source: DataSource,
    loop_id: str,
    now: int,
    trigger: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The file the retrain reads and what it is (for the timeline).

    Raises:
        NotFound: no version of the dataset, or no labelled traffic in the window.
    """
    if source.dataset is not None:
        versions = client.list_datasets(source.dataset)
        if not versions:
            raise NotFound(f"Dataset {shown(source.dataset)} has no version to train on.")
        newest = versions[-1]
        ref = f"{newest.name}@{newest.version}"
        rows = newest.shape[0] if newest.shape else None
        return client.dataset_file(ref), {"dataset": ref, "rows": rows}
    assert source.traffic is not None
    target = target_of(client, name, source)
    since = traffic_since(source, trigger or {}, now)
    frame = traffic_frame(client, name, since, target)
    if frame.empty:
        raise NotFound(
            f"No labelled traffic of {shown(name)} since {(now - since) / 1000:.0f} s ago: "
            "send labels (POST /feedback or log_labels) for the requests it answered."
        )
    folder = client.location.logs_folder("ct-data")
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"{loop_id}.parquet"
    frame.to_parquet(path, index=False)
    span = f"{(now - since) / 1000:.0f} s"
    return str(path), {"traffic": span, "rows": len(frame), "target": target, "since": since}


def drifted_summary(payload: dict[str, Any]) -> list[str]:
    """The drifted columns an alert named, for the timeline."""
    return [str(d.get("column")) for d in payload.get("drifted_columns") or [] if d.get("column")]
