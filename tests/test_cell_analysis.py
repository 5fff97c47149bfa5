"""What a cell's syntax says before it runs: metric names, loop targets, path expressions."""

from __future__ import annotations

import re

import pytest

from jupyter_mlops.magics import matches_as_name, name_parts
from jupyter_mlops.tracking.cell import PathPattern, analyze, parse


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("val_r2", ["val", "r2"]),
        ("layer2", ["layer2"]),
        ("testF1", ["test", "F1"]),
        ("ROCAuc", ["ROC", "Auc"]),
        ("R2Score", ["R2", "Score"]),
        ("val.acc-top5", ["val", "acc", "top5"]),
        ("скорость_обучения", ["скорость", "обучения"]),
    ],
)
def test_name_parts(name, parts):
    assert name_parts(name) == parts


def test_given_a_word_with_an_underscore_then_it_matches_consecutive_parts():
    pattern = re.compile("(?i)log_loss")
    assert matches_as_name(pattern, "val_log_loss")
    assert not matches_as_name(pattern, "log_lossless")


def patterns(source: str) -> set[PathPattern]:
    return analyze(parse(source)).path_patterns


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("df.to_csv(Path('exports') / f'{n}.csv')", {PathPattern(None, "exports/*.csv", True)}),
        ("df.to_csv(out)", {PathPattern("out", "", True)}),
        ("df.to_csv(os.path.join(d, 'a', f'{n}.csv'))", {PathPattern("d", "a/*.csv", True)}),
        ("df.to_csv(path.join('x', 'y.csv'))", {PathPattern(None, "x/y.csv", True)}),
        ("(folder / 'notes.txt').write_text('s')", {PathPattern("folder", "notes.txt", True)}),
        ("pd.read_csv(Path('data') / 'train.csv')", {PathPattern(None, "data/train.csv", False)}),
        # Computed names only where the cell writes, and never a bare "*".
        ("pd.read_csv(Path('data') / f'{split}.csv')", set()),
        ("df.to_csv(f'{name}')", set()),
        ("print(f'{acc:.2f}')", set()),
        ("df.to_csv(', '.join([f'{a}.csv']))", set()),
        ("df.to_csv(Path(f'[{n}].csv'))", {PathPattern(None, "[[]*].csv", True)}),
    ],
)
def test_path_expressions(source, expected):
    assert patterns(source) == expected


def test_given_a_loop_then_names_bound_only_by_its_target_are_loop_only():
    cell = analyze(
        parse("for part in frames:\n    total = len(part)\nfor x in y:\n    x = x + 1\n")
    )
    assert cell.loop_only == {"part"}
    assert {"part", "total", "x"} <= cell.stored
