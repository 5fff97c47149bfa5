"""The model registry's feature layer: validation gates run on a candidate before it may
enter a guarded stage, and promotion that validates first when it has to.

The rules (stages, aliases, approvals, which report a move may rely on) are the Client's
(``client/registry.py``); running a model against data is here, in a sandbox process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import ModelVersion
    from .gates import ShownReport, validate

__all__ = ["ShownReport", "promote", "validate"]


# Imported on first use: promoting into a stage without gates needs no numpy.
__getattr__ = lazy_exports(__name__, {"ShownReport": "gates", "validate": "gates"})


def promote(
    client: Client,
    name: str,
    version: int | str,
    stage: str,
    *,
    archive_existing: bool = True,
    reason: str | None = None,
    force: bool = False,
    holdout: Any = None,
    progress: bool = False,
    actor: str | None = None,
) -> ModelVersion:
    """Move ``version`` to ``stage``, first running the gates when the stage is guarded and
    no report exists for these bytes and this configuration (a report that exists is
    reused). A failed gate or missing approvals raise ``PromotionBlocked`` unless ``force``
    with a ``reason``, which is audited."""
    from ..client.registry import canonical_stage

    model = client.get_registered_model(name)
    target = canonical_stage(stage)
    if (
        model.gates
        and target in model.gates["stages"]
        and client.reusable_gate_report(name, version) is None
        and (holdout is not None or model.gates.get("holdout") is not None)
    ):
        from .gates import validate

        validate(client, name, version, holdout=holdout, progress=progress, actor=actor)
    return client.transition_model_version_stage(
        name,
        version,
        target,
        archive_existing=archive_existing,
        reason=reason,
        force=force,
        actor=actor,
    )
