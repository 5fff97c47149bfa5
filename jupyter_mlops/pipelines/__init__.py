"""Notebook pipelines: a DAG of parameterized notebooks run by papermill.

``spec`` (the pipeline), ``options`` (how one run goes), ``orchestrator`` (the run),
``executors`` (where steps run), ``steps`` and ``engine`` (one step in its kernel), ``cache``
(what may be reused), ``records`` (what runs carry), ``history`` (what the lab and the CLI
show), ``launch`` and ``scheduler`` (runs in their own process, by hand, on a cron or on an
event), ``notebook`` (one notebook, headless).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_mlops.lazy import lazy_exports

if TYPE_CHECKING:
    from jupyter_mlops.pipelines.options import RunOptions
    from jupyter_mlops.pipelines.orchestrator import run_pipeline
    from jupyter_mlops.pipelines.records import PipelineResult, StepResult, StepStatus
    from jupyter_mlops.pipelines.spec import Pipeline, Step, format_ref, split_ref

__all__ = [
    "Pipeline",
    "PipelineResult",
    "RunOptions",
    "Step",
    "StepResult",
    "StepStatus",
    "format_ref",
    "run_pipeline",
    "split_ref",
]

# Imported on first use: the CLI reads RunOptions without loading the orchestrator.
_LAZY = {
    "RunOptions": "options",
    "run_pipeline": "orchestrator",
    "PipelineResult": "records",
    "StepResult": "records",
    "StepStatus": "records",
    "Pipeline": "spec",
    "Step": "spec",
    "format_ref": "spec",
    "split_ref": "spec",
}
__getattr__ = lazy_exports(__name__, _LAZY)
