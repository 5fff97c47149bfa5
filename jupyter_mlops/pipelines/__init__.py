"""Notebook pipelines: a DAG of parameterized notebooks run by papermill."""

from jupyter_mlops.pipelines.runner import PipelineResult, StepResult, StepStatus, run_pipeline
from jupyter_mlops.pipelines.spec import Pipeline, Step, format_ref, split_ref

__all__ = [
    "Pipeline",
    "PipelineResult",
    "Step",
    "StepResult",
    "StepStatus",
    "format_ref",
    "run_pipeline",
    "split_ref",
]
