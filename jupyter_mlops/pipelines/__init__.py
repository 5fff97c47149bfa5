"""Notebook pipelines: a DAG of parameterized notebooks run by papermill."""

from jupyter_mlops.pipelines.spec import Pipeline, Step, format_ref, split_ref

__all__ = ["Pipeline", "Step", "format_ref", "split_ref"]
