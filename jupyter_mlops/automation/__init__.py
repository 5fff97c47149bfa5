"""Continuous training: a monitoring alert (or a schedule) retrains, the best candidate that
passes the gates is promoted by the model's policy, and the server switches by itself —
through a shadow or canary trial with automatic rollback when the policy asks — with every
step on the model's timeline and every decision on the registry's audit.

- :mod:`.policy`: setting a policy (its pipeline validated first);
- :mod:`.controller`: the scheduler's job that runs the loops, with their guardrails;
- :mod:`.promote`: ``promote_best`` and the pipeline's ``promote:`` step;
- :mod:`.rollout`: judging a candidate on trial against the champion;
- :mod:`.timeline`: a model's loops, step by step, with their times;
- :mod:`.data`: the data a retrain is handed (a dataset's newest version, or labelled traffic).
"""
