"""Content-addressed step cache: a step is skipped when nothing it depends on has changed.

A step's key hashes, in one canonical JSON document:

- its notebook's **code cells**, sources only: outputs, execution counts, metadata and
  markdown/raw cells are left out, so re-saving a notebook or editing its prose does not
  re-run the step, while editing code, even a comment, does (the source changed);
- its resolved **parameters** (pipeline-wide and the step's own, as papermill injects them);
- its **environment**: the kernel's name and command, the Python version and every installed
  distribution with its version;
- the fingerprints of its declared **inputs** (file contents, the newest version of a named
  dataset, the newest model of a name), and
- its **upstream steps' outputs**: the fingerprints their runs recorded. A step that re-ran
  upstream but wrote the same bytes leaves its downstream steps cached (content, not time).

A hit is the newest FINISHED step run with the same key whose declared outputs still have the
fingerprints it recorded (a deleted or edited output file is a miss). Its outputs are reused:
the new pipeline run gets a FINISHED step run tagged ``mlops.cached = <that run>``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops import capture

from . import records
from .spec import Pipeline, Step, split_ref

if TYPE_CHECKING:
    from jupyter_mlops.client import Client
    from jupyter_mlops.entities import Run

__all__ = [
    "code_hash",
    "environment_hash",
    "output_fingerprints",
    "outputs_digest",
    "ref_fingerprints",
    "step_key",
    "valid_hit",
]

MISSING = "missing"
# Bumped when what goes into a key changes, so old entries stop matching.
_KEY_VERSION = 1


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_hash(notebook: Path) -> str:
    """The hash of a notebook's code cell sources, in order (nothing else of the file)."""
    data = json.loads(Path(notebook).read_text(encoding="utf-8"))
    sources = []
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            sources.append("".join(src) if isinstance(src, list) else src)
    return _digest(sources)


@functools.cache
def environment_hash(kernel_name: str) -> str:
    """The kernel's name and command, Python's version and the installed distributions
    (read once per process, from the names of their metadata folders)."""
    return _digest(
        {
            "kernel": kernel_name,
            "argv": capture.kernel_argv(kernel_name),
            "python": sys.version,
            "dists": sorted(capture.installed_distributions().items()),
        }
    )


def ref_fingerprints(pipeline: Pipeline, refs: Iterable[str], client: Client) -> dict[str, str]:
    """The current fingerprint of each declared input or output (``"missing"`` if absent)."""
    out: dict[str, str] = {}
    for ref in refs:
        kind, name = split_ref(ref)
        if kind == "file":
            out[ref] = _file_fingerprint(pipeline, name, client)
        elif kind == "dataset":
            versions = client.list_datasets(name)
            out[ref] = versions[0].fingerprint if versions else MISSING
        else:
            out[ref] = client.latest_model_sha(name) or MISSING
    return out


def _file_fingerprint(pipeline: Pipeline, name: str, client: Client) -> str:
    from jupyter_mlops.data.files import path_fingerprint

    path = Path(name)
    if not path.is_absolute() and pipeline.base_dir is not None:
        path = pipeline.base_dir / path
    if not path.exists():
        return MISSING
    client.use_fingerprint_cache()  # unchanged files: (size, mtime, inode) hit, no read
    return path_fingerprint(path)


def output_fingerprints(
    pipeline: Pipeline, step: Step, client: Client, runs: Iterable[Run]
) -> dict[str, str]:
    """What a finished step produced: its declared outputs' fingerprints, plus the datasets
    and models its runs recorded (the step run and its ``%%track`` cells)."""
    out = ref_fingerprints(pipeline, step.outputs, client)
    for run in runs:
        for ds in run.outputs:
            out[f"recorded:dataset:{ds.name}"] = ds.fingerprint
        for model in run.models:
            out[f"recorded:model:{model.name}"] = model.sha256
    return out


def outputs_digest(outputs: Mapping[str, str], fallback_key: str) -> str:
    """What downstream keys see of a step: its outputs, or its own key when it has none
    known (a step whose effects are invisible must not be assumed unchanged)."""
    return _digest(dict(outputs)) if outputs else _digest({"key": fallback_key})


def step_key(
    pipeline: Pipeline,
    step: Step,
    parameters: Mapping[str, Any],
    kernel_name: str,
    client: Client,
    upstream_outputs: Mapping[str, str],
) -> str:
    """The cache key of ``step`` given its upstream steps' output digests."""
    return _digest(
        {
            "v": _KEY_VERSION,
            "pipeline": pipeline.name,
            "step": step.name,
            "code": code_hash(pipeline.notebook_path(step)),
            "parameters": dict(parameters),
            "env": environment_hash(kernel_name),
            "inputs": ref_fingerprints(pipeline, step.inputs, client),
            "upstream": {name: upstream_outputs[name] for name in sorted(step.upstream)},
        }
    )


def valid_hit(client: Client, pipeline: Pipeline, step: Step, key: str) -> Run | None:
    """The newest finished step run with this key whose declared outputs are still as it
    recorded them (an output edited or deleted since means: run again)."""
    hit = records.cache_hit(client, key)
    if hit is None:
        return None
    run = client.read_run(hit)  # a finished run, by its whole id
    recorded = records.outputs(run)
    current = ref_fingerprints(pipeline, step.outputs, client)
    if any(recorded.get(ref) != fp for ref, fp in current.items()):
        return None
    return run
