"""Monitoring served models: a reference built once from the training data
(``reference``), drift statistics against it (``drift``), data and model quality with and
without labels (``quality``), latency and load (``operations``), one window checked
(``check``), windows of recorded traffic (``monitor``) and their text (``render``).

Nothing here reads the training data when a window is checked, and nothing imports scipy's
statistics module unless a column is tested with Kolmogorov–Smirnov.
"""
