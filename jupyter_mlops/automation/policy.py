"""Setting a continuous-training policy: the Client checks its fields; here the retraining
pipeline it names is loaded and validated too, with the parameters the policy gives it (and
a placeholder for the data it will be handed), so a policy that could never retrain is
refused when it is set rather than when drift strikes at 3 a.m."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client.ct_config import CtPolicy
from ..exceptions import InvalidInput, shown
from ..pipelines.spec import Pipeline

if TYPE_CHECKING:
    from ..client import Client


def set_policy(
    client: Client,
    name: str,
    policy: CtPolicy | Mapping[str, Any] | str,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> CtPolicy:
    """Check ``policy`` and its pipeline, then store it as ``name``'s (audited). With
    ``root`` (the lab's folder), the pipeline's notebooks must resolve inside it.

    Raises:
        InvalidInput: a field of the policy, or the pipeline, does not validate; or its
            trigger names an alert rule the model's monitoring does not have (it would never
            fire).
        NotFound: no such model, or no pipeline file.
    """
    parsed = policy if isinstance(policy, CtPolicy) else CtPolicy.from_dict(policy)
    parsed = parsed.resolved(base_dir)
    client.get_registered_model(name)
    rules = [rule.name for rule in client.get_monitor_config(name).alerts.rules]
    unknown = [rule for rule in parsed.trigger.alerts if rule not in rules]
    if unknown:
        raise InvalidInput(
            f"trigger.alerts names {', '.join(map(shown, unknown))}, which {shown(name)}'s "
            f"monitoring has no rule of (its rules: {', '.join(rules)}); add the rule first "
            f"(jupyter-mlops monitor config {name} --set monitor.yaml) or name one of these."
        )
    params = dict(parsed.params)
    if parsed.data is not None:
        params[parsed.data.param] = "data.parquet"  # the file each retrain is handed
    Pipeline.from_yaml(parsed.pipeline).with_params(params).validate(
        root=None if root is None else Path(root)
    )
    stored = client.set_ct_policy(name, parsed, reason=reason, actor=actor)
    assert stored is not None
    return stored
