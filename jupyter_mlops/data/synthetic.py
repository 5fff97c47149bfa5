"""Synthetic churn data for the lifecycle demo and its notebook (nothing is downloaded).

Six numeric features; whether a customer churned follows a logistic rule of them. ``drift``
moves the customers (f0 and f1 shift by that many standard deviations) and, when
``new_rule`` is set, the rule itself changes (f0 now lowers churn and f3 matters): the
model trained before no longer fits, a model retrained on the new labelled traffic does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

FEATURES = tuple(f"f{i}" for i in range(6))
TARGET = "churned"
_RULE = np.array([1.4, -0.9, 0.7, 0.0, 0.5, -0.4])
_NEW_RULE = np.array([-1.1, -0.9, 0.7, 1.3, 0.5, -0.4])


def churn_frame(
    rows: int, *, drift: float = 0.0, new_rule: bool = False, seed: int = 0
) -> pd.DataFrame:
    """``rows`` customers: the features and ``churned`` (0 or 1)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    x[:, :2] += drift
    weights = _NEW_RULE if new_rule else _RULE
    logits = x @ weights - (drift * (weights[0] + weights[1]) if new_rule else 0.0)
    churned = (logits + rng.logistic(scale=0.35, size=rows) > 0).astype(int)
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame[TARGET] = churned
    return frame
