"""Monitoring's statistics on generated data: each drift method against scipy's own function
(the gap is the binning error, stated per test), false alarms on two samples of one
distribution, drift on mean shifts, variance shifts and new categories, the multiple-testing
correction, mergeable references, the label-free quality estimate under covariate shift, and
bad input that must give clear results rather than crashes or phantom drift."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.spatial.distance import jensenshannon

from jupyter_mlops.client.monitor_config import MonitorConfig, parse_duration
from jupyter_mlops.data import sketch as sk
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.monitoring.check import check, window_of_frame
from jupyter_mlops.monitoring.drift import benjamini_hochberg, column_drift, default_method
from jupyter_mlops.monitoring.quality import Calibration, classification_quality, roc_auc
from jupyter_mlops.monitoring.reference import Reference, build_reference


def _drift(reference: np.ndarray, current: np.ndarray, method: str | None = None):
    ref = sk.sketch_column(pd.Series(reference))
    cur = sk.sketch_column(pd.Series(current), ref)
    values = current[np.isfinite(current)] if isinstance(cur, sk.NumericSketch) else None
    return column_drift("x", ref, cur, values, method)


def _evidently_binned(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's bins for jensenshannon and psi: Sturges' rule over both samples."""
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    p = np.histogram(reference, edges)[0] / reference.size
    q = np.histogram(current, edges)[0] / current.size
    return p, q


# -- each method against scipy -------------------------------------------------------------

CASES = [
    # (reference rows, current rows, mean shift, scale)
    (200_000, 200_000, 0.0, 1.0),
    (200_000, 200_000, 0.1, 1.0),
    (50_000, 500, 0.3, 1.5),
    (5_000, 100, 0.0, 1.0),
    (20_000, 20_000, 0.0, 1.3),
]


@pytest.mark.parametrize(("n", "m", "shift", "scale"), CASES)
def test_given_normal_samples_then_ks_agrees_with_scipy_to_one_fine_bin(n, m, shift, scale):
    rng = np.random.default_rng(n + m)
    reference, current = rng.normal(size=n), rng.normal(shift, scale, size=m)
    ours = _drift(reference, current, "ks")
    theirs = stats.ks_2samp(reference, current, method="asymp")
    # The statistic is read at the reference's 1,000 quantile edges: off by at most one bin.
    assert abs(ours.statistic - theirs.statistic) <= 1 / sk.FINE_BINS + 1e-12
    if theirs.pvalue > 1e-6:
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.25, abs=0.01)
    assert ours.drifted == (theirs.pvalue <= 0.05) or abs(theirs.pvalue - 0.05) < 0.02


@pytest.mark.parametrize(("n", "m", "shift", "scale"), CASES)
def test_given_normal_samples_then_normed_wasserstein_agrees_with_scipy_within_two_percent(
    n, m, shift, scale
):
    rng = np.random.default_rng(n * 3 + m)
    reference, current = rng.normal(size=n), rng.normal(shift, scale, size=m)
    ours = _drift(reference, current, "wasserstein")
    theirs = stats.wasserstein_distance(reference, current) / np.std(reference)
    # Linear within each fine bin of the reference: 2 % of the distance, or 0.002 absolute.
    assert ours.score == pytest.approx(theirs, rel=0.02, abs=0.002)


def test_given_far_outliers_then_wasserstein_counts_them_exactly():
    rng = np.random.default_rng(7)
    reference = rng.normal(size=100_000)
    current = rng.normal(size=100_000)
    current[:1000] = rng.normal(20, 1, size=1000)
    ours = _drift(reference, current, "wasserstein")
    theirs = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert ours.score == pytest.approx(theirs, rel=0.01)
    assert ours.drifted


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_given_numeric_samples_then_jensenshannon_and_psi_agree_with_evidentlys_binning(shift):
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=100_000), rng.normal(shift, 1, size=100_000)
    p, q = _evidently_binned(reference, current)
    js = _drift(reference, current, "jensenshannon")
    # The reference's share of each bin comes from its CDF (linear within a fine bin).
    assert js.score == pytest.approx(jensenshannon(p, q), abs=0.005)
    smooth_p = np.where(p == 0, 1e-4 if p[p > 0].min() > 1e-4 else p[p > 0].min() / 1e6, p)
    smooth_q = np.where(q == 0, 1e-4 if q[q > 0].min() > 1e-4 else q[q > 0].min() / 1e6, q)
    psi = float(np.sum((smooth_p - smooth_q) * np.log(smooth_p / smooth_q)))
    assert _drift(reference, current, "psi").score == pytest.approx(psi, rel=0.1, abs=0.005)


def test_given_categories_then_chisquare_agrees_with_scipy_exactly():
    rng = np.random.default_rng(3)
    reference = rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1], size=5_000)
    current = rng.choice(["a", "b", "c", "d"], p=[0.35, 0.3, 0.2, 0.15], size=800)
    ours = _drift(reference.astype(object), current.astype(object), "chisquare")
    keys = ["a", "b", "c", "d"]
    ref_counts = np.array([(reference == k).sum() for k in keys], dtype=float)
    cur_counts = np.array([(current == k).sum() for k in keys], dtype=float)
    expected = ref_counts / ref_counts.sum() * cur_counts.sum()
    theirs = stats.chisquare(cur_counts, expected)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    js = _drift(reference.astype(object), current.astype(object), "jensenshannon")
    assert js.score == pytest.approx(
        jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()), rel=1e-9
    )


# -- verdicts ------------------------------------------------------------------------------


def test_given_the_default_rule_then_p_values_for_small_samples_and_distances_above():
    assert default_method("numeric", 1_000_000, 800, 5_000) == "ks"
    assert default_method("numeric", 1_000_000, 5_000, 5_000) == "wasserstein"
    assert default_method("numeric", 4, 5_000, 5_000) == "jensenshannon"
    assert default_method("categorical", 3, 500, 500) == "chisquare"
    assert default_method("categorical", 2, 500, 500) == "z"
    assert default_method("categorical", 40, 5_000, 5_000) == "jensenshannon"


def _frame(rng: np.random.Generator, rows: int, columns: int, shift: float = 0.0) -> pd.DataFrame:
    data = rng.normal(size=(rows, columns))
    data[:, 0] += shift
    return pd.DataFrame(data, columns=[f"c{i}" for i in range(columns)])


@pytest.mark.parametrize(("reference_rows", "window_rows"), [(5_000, 300), (20_000, 5_000)])
def test_given_repeated_draws_of_one_distribution_then_false_alarms_are_rare(
    reference_rows, window_rows
):
    """The false-alarm rate at the defaults, measured: 30 columns, 40 windows, each drawn
    from the reference's own distribution. Small windows get KS with Benjamini–Hochberg;
    large ones the normed Wasserstein distance."""
    rng = np.random.default_rng(reference_rows)
    reference = build_reference(_frame(rng, reference_rows, 30))
    column_alarms = dataset_alarms = 0
    windows = 40
    for _ in range(windows):
        report = check(reference, window_of_frame(_frame(rng, window_rows, 30)))
        column_alarms += len(report.drifted_columns)
        dataset_alarms += report.dataset_drift["drifted"]
    rate = column_alarms / (windows * 30)
    print(f"false alarms: {rate:.4f} of column checks, {dataset_alarms} of {windows} windows")
    # Without correction KS would flag about 5 % of columns; with it, about 5 % of windows
    # see any column flagged (the false discovery rate), far fewer columns.
    assert rate < 0.01
    assert dataset_alarms == 0


def test_given_a_wide_table_then_benjamini_hochberg_keeps_the_family_quiet():
    rng = np.random.default_rng(5)
    reference = build_reference(_frame(rng, 5_000, 100))
    uncorrected = MonitorConfig.from_dict({"drift": {"correction": "none"}})
    raw = corrected = 0
    for _ in range(20):
        window = window_of_frame(_frame(rng, 200, 100))
        raw += len(check(reference, window, uncorrected).drifted_columns)
        corrected += len(check(reference, window).drifted_columns)
    print(f"columns flagged in 20 windows × 100 columns: {raw} uncorrected, {corrected} with BH")
    assert raw > 40  # about 5 % of 2,000 column checks
    assert corrected <= 4


def test_benjamini_hochberg_matches_the_textbook_procedure():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    adjusted = benjamini_hochberg(p)
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 -> ×5/rank, then running minimum from the top.
    assert adjusted.tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])


@pytest.mark.parametrize(
    ("change", "column"),
    [("mean", "c0"), ("variance", "c1"), ("category", "city")],
)
def test_given_a_change_then_that_column_and_only_it_drifts(change, column):
    rng = np.random.default_rng(17)

    def table(rows: int, changed: bool) -> pd.DataFrame:
        frame = _frame(rng, rows, 4)
        frame["city"] = rng.choice(["a", "b", "c"], size=rows)
        if changed and change == "mean":
            frame["c0"] += 0.5
        if changed and change == "variance":
            frame["c1"] *= 2.0
        if changed and change == "category":
            frame.loc[: rows // 5, "city"] = "new"
        return frame

    reference = build_reference(table(20_000, False))
    for rows in (400, 5_000):  # a p-value test, then a distance
        report = check(reference, window_of_frame(table(rows, True)))
        assert [d.column for d in report.drifted_columns] == [column], rows
    if change == "category":
        city = next(q for q in report.data_quality if q["column"] == "city")
        assert city["unseen_values"] == ["new"]
        assert city["unseen_share"] == pytest.approx(0.2, abs=0.01)


def test_given_importances_then_dataset_drift_can_be_weighted_by_them():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(2)
    train = _frame(rng, 5_000, 4)
    target = 10 * train["c0"] + 0.1 * train["c1"]
    model = LinearRegression().fit(train, target)
    reference = build_reference(train, model, target.to_numpy())
    assert reference.importance is not None and reference.importance["c0"] > 0.9
    window = window_of_frame(_frame(rng, 5_000, 4, shift=1.0), model, None, reference)
    plain = check(reference, window)
    weighted = check(reference, window, MonitorConfig.from_dict({"drift": {"weighted": True}}))
    assert plain.dataset_drift["share"] == pytest.approx(0.25)
    assert not plain.dataset_drift["drifted"]
    assert weighted.dataset_drift["share"] > 0.9 and weighted.dataset_drift["drifted"]
    assert plain.prediction_drift is not None and plain.prediction_drift.drifted


# -- references ----------------------------------------------------------------------------


def test_given_two_parts_then_their_merged_reference_is_the_whole_ones():
    rng = np.random.default_rng(4)
    whole = _frame(rng, 10_000, 3)
    whole["city"] = rng.choice(["a", "b", "c", None], size=10_000)
    whole.loc[::97, "c1"] = np.nan
    full = build_reference(whole)
    first = build_reference(whole.iloc[:3_000], like=full)
    second = build_reference(whole.iloc[3_000:], like=full)
    merged = first.merge(second)
    assert merged.rows == full.rows
    for name, sketch in full.columns.items():
        other = merged.columns[name]
        if isinstance(sketch, sk.NumericSketch):
            assert isinstance(other, sk.NumericSketch)
            assert np.array_equal(other.counts, sketch.counts)
            assert (other.n, other.missing, other.min, other.max) == (
                sketch.n,
                sketch.missing,
                sketch.min,
                sketch.max,
            )
            assert other.mean == pytest.approx(sketch.mean, rel=1e-12)
            assert other.std == pytest.approx(sketch.std, rel=1e-12)
        else:
            assert other == sketch


def test_given_a_reference_then_its_json_round_trips_without_nan():
    rng = np.random.default_rng(9)
    frame = _frame(rng, 2_000, 2)
    frame["flag"] = rng.integers(0, 3, size=2_000)
    frame.loc[0, "c0"] = np.inf
    reference = build_reference(frame)
    text = json.dumps(reference.to_dict(), allow_nan=False)
    again = Reference.from_dict(json.loads(text))
    assert again.to_dict() == reference.to_dict()
    flag = again.columns["flag"]
    assert isinstance(flag, sk.NumericSketch) and flag.values is not None
    assert sorted(flag.values) == [0.0, 1.0, 2.0] and sum(flag.values.values()) == 2_000
    assert again.columns["c0"].infinite == 1


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1e6, 1e6, width=64)),
    arrays(np.float64, st.integers(0, 3000), elements=st.floats(-2e6, 2e6, width=64)),
)
def test_bin_positions_is_searchsorted(reference, values):
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 200), method="inverted_cdf"))
    assert np.array_equal(
        sk.bin_positions(edges, values), np.searchsorted(edges, values, side="left")
    )


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.lognormal(0, 3, size=n),
        lambda rng, n: np.r_[rng.normal(size=n - 50), rng.normal(1e9, 1, size=50)],
        lambda rng, n: rng.integers(0, 7, size=n).astype(float),
    ],
)
def test_bin_positions_is_searchsorted_on_large_windows(draw):
    rng = np.random.default_rng(1)
    reference, values = draw(rng, 50_000), draw(rng, 60_000) * 1.1 - 0.05
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 1001), method="inverted_cdf"))
    assert np.array_equal(
        sk.bin_positions(edges, values), np.searchsorted(edges, values, side="left")
    )


# -- quality -------------------------------------------------------------------------------


def test_roc_auc_by_ranks_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=500).astype(bool)
    score = np.round(rng.random(500) + truth * 0.3, 1)  # many ties
    assert roc_auc(truth, score) == pytest.approx(roc_auc_score(truth, score))
    assert roc_auc(np.ones(5, bool), np.arange(5.0)) is None


def test_classification_quality_matches_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(1)
    truth = rng.choice(["x", "y", "z"], size=300)
    predicted = np.where(rng.random(300) < 0.7, truth, rng.choice(["x", "y", "z"], size=300))
    result = classification_quality(truth, predicted, ["x", "y", "z"])
    assert result["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert result["f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    binary = classification_quality([0, 1, 1, 0, 1.0], [0, 1, 0, 0, 1], [0, 1])
    assert binary["f1"] == pytest.approx(f1_score([0, 1, 1, 0, 1], [0, 1, 0, 0, 1]))


def _labelled(rng: np.random.Generator, rows: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Covariate shift: the inputs move, the chance of each label given the inputs does not."""
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["a"] += shift
    logit = 1.2 * frame["a"] - 0.8 * frame["b"] + 0.3 * frame["c"] ** 2 - 0.5
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return frame, labels


@pytest.mark.parametrize("shift", [0.0, 0.75, 1.5, -1.0])
def test_given_covariate_shift_then_the_label_free_estimate_is_within_three_points(shift):
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(42)
    train, train_labels = _labelled(rng, 20_000, 0.0)
    model = HistGradientBoostingClassifier(max_iter=60).fit(train, train_labels)
    holdout, holdout_labels = _labelled(rng, 20_000, 0.0)
    # Calibrated where labels are known and the model did not learn them: a holdout.
    reference = build_reference(holdout, model, holdout_labels)
    window_rows, window_labels = _labelled(rng, 5_000, shift)
    report = check(reference, window_of_frame(window_rows, model, window_labels, reference))
    estimated, realised = report.quality["estimated"], report.quality["realised"]
    print(
        f"shift {shift}: accuracy estimated {estimated['accuracy']:.4f}, realised "
        f"{realised['accuracy']:.4f}; f1 {estimated['f1']:.4f} vs {realised['f1']:.4f}"
    )
    assert abs(estimated["accuracy"] - realised["accuracy"]) < 0.03
    assert abs(estimated["f1"] - realised["f1"]) < 0.03


def test_given_overconfident_scores_then_calibration_pulls_them_to_observed_rates():
    rng = np.random.default_rng(3)
    truth = rng.random(20_000) < 0.5
    # Scores say 0.9 / 0.1, the truth is right only 70 % of the time.
    right = rng.random(20_000) < 0.7
    positive_score = np.where(truth == right, 0.9, 0.1)
    scores = np.column_stack([1 - positive_score, positive_score])
    calibration = Calibration.fit(scores, truth.astype(int), [0, 1])
    calibrated = calibration.apply(scores)
    assert calibrated[positive_score == 0.9, 1].mean() == pytest.approx(0.7, abs=0.02)


# -- bad input -----------------------------------------------------------------------------


def test_given_bad_windows_then_results_are_clear_and_never_phantom_drift():
    rng = np.random.default_rng(8)
    train = pd.DataFrame(
        {
            "x": rng.normal(size=3_000),
            "constant": np.full(3_000, 5.0),
            "empty": np.full(3_000, np.nan),
            "city": rng.choice([f"c{i}" for i in range(5_000)], size=3_000),
            "gone": rng.normal(size=3_000),
        }
    )
    reference = build_reference(train)
    window = pd.DataFrame(
        {
            "x": np.full(500, np.nan),  # all missing in the window
            "constant": np.full(500, 5.0),
            "empty": np.full(500, np.nan),
            "city": rng.choice([f"c{i}" for i in range(5_000)], size=500),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, no invalid value
        report = check(reference, window_of_frame(window))
    by_column = {d.column: d for d in report.drift}
    assert report.missing_columns == ["gone"]
    assert by_column["x"].note == "the window has no values in this column"
    assert by_column["empty"].note == "the reference has no values in this column"
    assert not by_column["constant"].drifted and by_column["constant"].score is not None
    assert not any(d.drifted for d in report.drift)
    json.dumps(report.to_dict(), allow_nan=False)
    empty = check(reference, window_of_frame(window.iloc[:0]))
    assert empty.rows == 0 and not empty.dataset_drift["drifted"]
    json.dumps(empty.to_dict(), allow_nan=False)


def test_given_text_in_a_numeric_column_then_it_is_counted_as_type_errors():
    rng = np.random.default_rng(0)
    reference = build_reference(pd.DataFrame({"x": rng.normal(size=1000)}))
    window = pd.DataFrame({"x": ["1.5", "oops", None, "2"] * 50})
    report = check(reference, window_of_frame(window))
    quality = report.data_quality[0]
    assert quality["type_errors"] == 50
    assert quality["missing_share"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"drift": {"methods": {"a": "magic"}}}, "unknown method"),
        ({"drift": {"share": 2}}, "between 0.0 and 1.0"),
        ({"drift": {"thresholds": {"ks": math.nan}}}, "must be a number"),
        ({"drift": {"correction": "bonferroni"}}, "bh or none"),
        ({"window": "forever"}, "duration"),
        ({"windows": 3}, "unknown field"),
        ("drift: [", "not valid YAML"),
    ],
)
def test_given_a_bad_configuration_then_the_field_is_named(config, message):
    with pytest.raises(InvalidInput, match=message):
        MonitorConfig.from_dict(config)


def test_durations_parse_and_are_bounded():
    assert parse_duration("15m") == 900_000
    assert parse_duration("1.5h") == 5_400_000
    assert parse_duration(60) == 60_000
    for bad in ("0s", "400d", "1y", True, None, math.inf):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def test_given_rows_without_scores_then_the_estimate_leaves_them_out():
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.monitoring.check import Window

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2_000, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(X, y)
    reference = build_reference(X, model, y)
    scores = model.predict_proba(X.iloc[:100])
    scores[:30] = np.nan  # e.g. recorded before the server recorded scores
    labels = np.empty(100, dtype=object)
    labels[:] = y[:100].tolist()
    window = Window(X.iloc[:100], model.predict(X.iloc[:100]), scores, labels)
    report = check(reference, window)
    assert report.quality["estimated"]["rows"] == 70
    assert (
        report.quality["realised"]["rows"] == 100 and report.quality["realised"]["roc_auc"] is None
    )
    json.dumps(report.to_dict(), allow_nan=False)
