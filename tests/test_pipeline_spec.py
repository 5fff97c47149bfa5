"""Pipeline spec: YAML form, validation messages, DAG order (no notebook is executed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_mlops.exceptions import InvalidInput, NotFound
from jupyter_mlops.pipelines import Pipeline, Step, format_ref, split_ref

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(
    path: Path, parameters: str | None = "alpha = 0.5\nn_estimators = 100\n"
) -> Path:
    """A real notebook; ``parameters`` becomes the cell tagged ``parameters`` (None: no tag)."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    if parameters is None:
        nb.cells.append(nbformat.v4.new_code_cell("alpha = 0.5"))
    else:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_markdown_cell("# Work"))
    nb.cells.append(nbformat.v4.new_code_cell("result = alpha * 2"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with prepare/train/evaluate notebooks under ``nb/`` and nothing else."""
    write_notebook(tmp_path / "nb" / "prepare.ipynb", "rows = 1000\nseed = 0\n")
    write_notebook(
        tmp_path / "nb" / "train.ipynb",
        'alpha = 0.5\nn_estimators: int = 100\nmodel = "rf"\nuse_gpu = False\n'
        "features = ['a']\noptions = {}\nseed = 0\nthreshold: float = 1\n",
    )
    write_notebook(tmp_path / "nb" / "evaluate.ipynb", "metric = 'acc'\n")
    return tmp_path


def write_yaml(folder: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


DIAMOND = """\
name: churn
params:
  seed: 7
steps:
  - name: prepare
    notebook: nb/prepare.ipynb
    parameters: {rows: 500}
    outputs: [data/train.csv, "dataset:train"]
  - name: train_a
    notebook: nb/train.ipynb
    upstream: [prepare]
    parameters: {alpha: 0.1, model: rf}
    inputs: ["dataset:train"]
    outputs: ["model:a"]
    timeout: 600
    retries: 2
    retry_backoff: 1.5
  - name: train_b
    notebook: nb/train.ipynb
    upstream: [prepare]
    parameters: {alpha: 1}
    inputs: ["dataset:train"]
    outputs: ["model:b"]
  - name: evaluate
    notebook: nb/evaluate.ipynb
    upstream: [train_a, train_b]
    inputs: ["model:a", "model:b"]
"""


def problems_of(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    return excinfo.value.message


# -- loading and saving -------------------------------------------------------------------


def test_given_diamond_yaml_when_loaded_then_fields_and_relative_notebooks_resolve(
    project: Path,
) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    assert pipeline.name == "churn"
    assert pipeline.params == {"seed": 7}
    assert [s.name for s in pipeline.steps] == ["prepare", "train_a", "train_b", "evaluate"]
    train_a = pipeline.step("train_a")
    assert train_a.upstream == ("prepare",)
    assert train_a.parameters == {"alpha": 0.1, "model": "rf"}
    assert (train_a.timeout, train_a.retries, train_a.retry_backoff) == (600.0, 2, 1.5)
    assert pipeline.step("prepare").timeout is None
    assert pipeline.notebook_path("train_a") == (project / "nb" / "train.ipynb").resolve()
    pipeline.validate()


def test_given_yaml_in_other_folder_when_loaded_from_elsewhere_then_paths_follow_the_yaml(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = write_yaml(project / "nb", "name: p\nsteps:\n  - {name: a, notebook: prepare.ipynb}\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))

    pipeline = Pipeline.from_yaml(spec)

    assert pipeline.notebook_path("a") == (project / "nb" / "prepare.ipynb").resolve()
    pipeline.validate()


def test_given_loaded_pipeline_when_round_tripped_through_yaml_then_it_is_equal(
    project: Path,
) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    again_path = project / "copy.yaml"
    pipeline.to_yaml(again_path)
    again = Pipeline.from_yaml(again_path)

    assert again == pipeline
    assert again.to_dict() == pipeline.to_dict()
    assert pipeline.to_dict()["steps"][1]["notebook"] == "nb/train.ipynb"
    assert Pipeline.from_dict(pipeline.to_dict(), base_dir=project) == pipeline


def test_given_python_built_pipeline_when_validated_then_it_matches_the_yaml_form(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "churn",
        [
            Step("prepare", "nb/prepare.ipynb", parameters={"rows": 10}),
            Step("train", "nb/train.ipynb", upstream=["prepare"], retries=1),
        ],
        base_dir=project,
    )

    pipeline.validate()
    assert pipeline.step("train").upstream == ("prepare",)
    assert Pipeline.from_dict(pipeline.to_dict(), base_dir=project) == pipeline


def test_given_refs_when_split_then_default_kind_is_file() -> None:
    assert split_ref("data/train.csv") == ("file", "data/train.csv")
    assert split_ref("dataset:train") == ("dataset", "train")
    assert split_ref("model:churn") == ("model", "churn")
    assert split_ref("s3://bucket/x.csv") == ("file", "s3://bucket/x.csv")
    assert format_ref("x.csv") == "file:x.csv"
    with pytest.raises(InvalidInput, match="unknown kind 'modle'"):
        split_ref("modle:churn")


def test_given_pipeline_params_when_step_declares_them_then_step_parameters_win(
    project: Path,
) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    merged = pipeline.parameters_for("train_a", declared=["alpha", "seed", "model"])

    assert merged == {"seed": 7, "alpha": 0.1, "model": "rf"}
    assert pipeline.parameters_for("evaluate", declared=["metric"]) == {}


# -- validation ---------------------------------------------------------------------------


def test_given_yaml_syntax_error_when_loaded_then_message_has_line_number(
    tmp_path: Path,
) -> None:
    spec = write_yaml(tmp_path, "name: p\nsteps:\n  - name: a\n    notebook: [oops\n")

    with pytest.raises(InvalidInput) as excinfo:
        Pipeline.from_yaml(spec)

    assert "pipeline.yaml: YAML syntax error at line 5" in problems_of(excinfo)


def test_given_missing_pipeline_file_when_loaded_then_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        Pipeline.from_yaml(tmp_path / "nope.yaml")


def test_given_unknown_keys_when_loaded_then_closest_key_is_suggested(project: Path) -> None:
    spec = write_yaml(
        project,
        "name: p\nstep: []\nsteps:\n"
        "  - name: a\n    notebook: nb/prepare.ipynb\n    paramters: {rows: 1}\n",
    )

    with pytest.raises(InvalidInput) as excinfo:
        Pipeline.from_yaml(spec)

    message = problems_of(excinfo)
    assert "pipeline.yaml: top-level: unknown key 'step' (did you mean 'steps'?)" in message
    assert "step 'a': unknown key 'paramters' (did you mean 'parameters'?)" in message


def test_given_duplicate_names_when_validated_then_the_step_is_named(project: Path) -> None:
    pipeline = Pipeline(
        "p", [Step("a", "nb/prepare.ipynb"), Step("a", "nb/prepare.ipynb")], base_dir=project
    )

    with pytest.raises(InvalidInput, match="step 'a': the name is used by 2 steps"):
        pipeline.validate()


def test_given_unknown_upstream_when_validated_then_closest_step_is_suggested(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p",
        [Step("prepare", "nb/prepare.ipynb"), Step("train", "nb/train.ipynb", upstream=["prep"])],
        base_dir=project,
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    assert "step 'train': unknown upstream 'prep' (did you mean 'prepare'?)" in problems_of(excinfo)


def test_given_cycle_when_validated_or_ordered_then_message_names_the_path(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p",
        [
            Step("prepare", "nb/prepare.ipynb", upstream=["train"]),
            Step("train", "nb/train.ipynb", upstream=["prepare"]),
            Step("evaluate", "nb/evaluate.ipynb", upstream=["train"]),
        ],
        base_dir=project,
    )

    with pytest.raises(InvalidInput, match="cycle prepare -> train -> prepare"):
        pipeline.validate()
    with pytest.raises(InvalidInput, match="cycle prepare -> train -> prepare"):
        pipeline.order()


def test_given_longer_cycle_when_validated_then_path_follows_data_flow(project: Path) -> None:
    pipeline = Pipeline(
        "p",
        [
            Step("a", "nb/prepare.ipynb", upstream=["c"]),
            Step("b", "nb/prepare.ipynb", upstream=["a"]),
            Step("c", "nb/prepare.ipynb", upstream=["b"]),
        ],
        base_dir=project,
    )

    with pytest.raises(InvalidInput, match="step 'a': cycle a -> b -> c -> a"):
        pipeline.validate()


def test_given_missing_notebook_when_validated_then_the_step_and_path_are_named(
    project: Path,
) -> None:
    pipeline = Pipeline("p", [Step("train", "nb/trian.ipynb")], base_dir=project)

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    message = problems_of(excinfo)
    assert message.startswith("step 'train': notebook nb/trian.ipynb not found")
    assert str(project / "nb" / "trian.ipynb") in message


def test_given_undeclared_parameter_when_validated_then_closest_declared_is_suggested(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p", [Step("train", "nb/train.ipynb", parameters={"alhpa": 0.2})], base_dir=project
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    message = problems_of(excinfo)
    assert "step 'train': parameter 'alhpa' is not declared in nb/train.ipynb" in message
    assert "(did you mean 'alpha'?)" in message
    assert "cell tagged 'parameters'" in message


def test_given_notebook_without_parameters_cell_when_parameters_given_then_each_is_an_error(
    tmp_path: Path,
) -> None:
    write_notebook(tmp_path / "plain.ipynb", parameters=None)
    pipeline = Pipeline(
        "p", [Step("s", "plain.ipynb", parameters={"alpha": 1, "beta": 2})], base_dir=tmp_path
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    lines = problems_of(excinfo).splitlines()
    assert lines[0] == "2 problems in the pipeline:"
    assert all("has no cell tagged 'parameters'" in line for line in lines[1:])
    assert "parameter 'alpha'" in lines[1] and "parameter 'beta'" in lines[2]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("alpha", "abc", "parameter 'alpha' is float in nb/train.ipynb, got 'abc' (str)"),
        ("n_estimators", 1.5, "parameter 'n_estimators' is int in nb/train.ipynb, got 1.5"),
        ("model", 3, "parameter 'model' is str in nb/train.ipynb, got 3 (int)"),
        ("use_gpu", "yes", "parameter 'use_gpu' is bool in nb/train.ipynb, got 'yes' (str)"),
        ("features", "a", "parameter 'features' is list in nb/train.ipynb, got 'a' (str)"),
        ("options", [1], "parameter 'options' is dict in nb/train.ipynb, got [1] (list)"),
        ("n_estimators", True, "parameter 'n_estimators' is int in nb/train.ipynb, got True"),
    ],
)
def test_given_wrong_type_when_validated_then_expected_and_given_types_are_named(
    project: Path, name: str, value: object, expected: str
) -> None:
    pipeline = Pipeline(
        "p", [Step("train", "nb/train.ipynb", parameters={name: value})], base_dir=project
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    assert problems_of(excinfo).startswith(f"step 'train': {expected}")


def test_given_int_for_float_parameter_when_validated_then_it_is_accepted(project: Path) -> None:
    pipeline = Pipeline(
        "p",
        [Step("train", "nb/train.ipynb", parameters={"alpha": 1, "threshold": 2})],
        base_dir=project,
    )

    pipeline.validate()


def test_given_pipeline_param_of_wrong_type_or_unused_when_validated_then_reported(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p",
        [Step("train", "nb/train.ipynb")],
        params={"seed": "zero", "sede": 1},
        base_dir=project,
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    message = problems_of(excinfo)
    assert "step 'train': pipeline parameter 'seed' is int in nb/train.ipynb, got 'zero'" in (
        message
    )
    assert "pipeline parameter 'sede' is not declared by any step's notebook" in message


def test_given_negative_retries_and_timeout_when_validated_then_each_is_reported(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p",
        [Step("train", "nb/train.ipynb", retries=-1, timeout=-5, retry_backoff=-1)],
        base_dir=project,
    )

    with pytest.raises(InvalidInput) as excinfo:
        pipeline.validate()

    message = problems_of(excinfo)
    assert "step 'train': retries is -1; use 0 or a positive whole number" in message
    assert "step 'train': timeout is -5; use a positive number of seconds" in message
    assert "step 'train': retry_backoff is -1" in message


def test_given_wrong_field_types_in_yaml_when_loaded_then_each_is_reported(
    project: Path,
) -> None:
    spec = write_yaml(
        project,
        "name: p\nsteps:\n  - name: a\n    notebook: nb/prepare.ipynb\n"
        "    retries: lots\n    timeout: soon\n    upstream: {x: 1}\n",
    )

    with pytest.raises(InvalidInput) as excinfo:
        Pipeline.from_yaml(spec)

    message = problems_of(excinfo)
    assert "step 'a': 'retries' must be a whole number, got 'lots'" in message
    assert "step 'a': 'timeout' must be a number of seconds, got 'soon'" in message
    assert "step 'a': 'upstream' must be a list of strings" in message


def test_given_input_from_a_non_upstream_step_when_validated_then_upstream_is_suggested(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p",
        [
            Step("prepare", "nb/prepare.ipynb", outputs=["dataset:train"]),
            Step("train", "nb/train.ipynb", inputs=["dataset:train"]),
        ],
        base_dir=project,
    )

    with pytest.raises(InvalidInput, match="add 'prepare' to its upstream"):
        pipeline.validate()


def test_given_yaml_exponent_without_dot_when_validated_then_hint_says_how_to_write_it(
    project: Path,
) -> None:
    spec = write_yaml(
        project,
        "name: p\nsteps:\n  - name: t\n    notebook: nb/train.ipynb\n"
        "    parameters: {alpha: 1e-3}\n",
    )

    with pytest.raises(InvalidInput, match=r"got '1e-3' \(str\); write it as a number"):
        Pipeline.from_yaml(spec).validate()


def test_given_unknown_ref_kind_when_validated_then_step_and_kinds_are_named(
    project: Path,
) -> None:
    pipeline = Pipeline(
        "p", [Step("train", "nb/train.ipynb", outputs=["modle:churn"])], base_dir=project
    )

    with pytest.raises(InvalidInput, match="step 'train': outputs: unknown kind 'modle'"):
        pipeline.validate()


def test_given_two_steps_writing_one_output_when_validated_then_reported(project: Path) -> None:
    pipeline = Pipeline(
        "p",
        [
            Step("a", "nb/prepare.ipynb", outputs=["train.csv"]),
            Step("b", "nb/prepare.ipynb", outputs=["file:train.csv"]),
        ],
        base_dir=project,
    )

    with pytest.raises(InvalidInput, match=r"step 'b': output 'file:train\.csv' is also written"):
        pipeline.validate()


def test_given_step_without_name_when_loaded_then_its_position_is_named(project: Path) -> None:
    spec = write_yaml(project, "name: p\nsteps:\n  - notebook: nb/prepare.ipynb\n")

    with pytest.raises(InvalidInput, match="step #1: 'name' is missing"):
        Pipeline.from_yaml(spec)


def test_given_many_problems_when_loaded_then_all_are_in_one_message_one_line_each(
    project: Path,
) -> None:
    spec = write_yaml(
        project,
        """\
name: p
steps:
  - name: prepare
    notebook: nb/prepare.ipynb
    upstream: [evaluate]
    retries: -2
  - name: train
    notebook: nb/train.ipynb
    upstream: [prepare, prep]
    parameters: {alpha: abc, alhpa: 1}
  - name: evaluate
    notebook: nb/missing.ipynb
    upstream: [train]
    timout: 5
""",
    )

    with pytest.raises(InvalidInput) as excinfo:
        Pipeline.from_yaml(spec)

    lines = problems_of(excinfo).splitlines()
    body = lines[1:]
    assert lines[0] == f"{len(body)} problems in the pipeline:"
    expected = [
        "step 'evaluate': unknown key 'timout' (did you mean 'timeout'?)",
        "step 'prepare': retries is -2",
        "step 'train': unknown upstream 'prep' (did you mean 'prepare'?)",
        "step 'evaluate': cycle evaluate -> prepare -> train -> evaluate",
        "step 'train': parameter 'alpha' is float in nb/train.ipynb, got 'abc' (str)",
        "step 'train': parameter 'alhpa' is not declared in nb/train.ipynb",
        "step 'evaluate': notebook nb/missing.ipynb not found",
    ]
    for fragment in expected:
        assert sum(fragment in line for line in body) == 1, fragment
    assert len(body) == len(expected)


# -- graph --------------------------------------------------------------------------------


def test_given_diamond_when_ordered_then_waves_are_sorted_and_parallel(project: Path) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    assert pipeline.order() == [["prepare"], ["train_a", "train_b"], ["evaluate"]]


def test_given_steps_written_in_any_order_when_ordered_then_waves_are_the_same() -> None:
    pipeline = Pipeline(
        "p",
        [
            Step("evaluate", "e.ipynb", upstream=["train_b", "train_a"]),
            Step("train_b", "t.ipynb", upstream=["prepare"]),
            Step("train_a", "t.ipynb", upstream=["prepare"]),
            Step("prepare", "p.ipynb"),
            Step("report", "r.ipynb"),
        ],
    )

    assert pipeline.order() == [["prepare", "report"], ["train_a", "train_b"], ["evaluate"]]


def test_given_diamond_when_asking_downstream_then_transitive_dependents(project: Path) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    assert pipeline.downstream("prepare") == {"train_a", "train_b", "evaluate"}
    assert pipeline.downstream("train_b") == {"evaluate"}
    assert pipeline.downstream("evaluate") == set()


def test_given_diamond_when_taking_subgraph_from_a_step_then_it_and_after_in_order(
    project: Path,
) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    assert pipeline.subgraph_from("prepare") == ["prepare", "train_a", "train_b", "evaluate"]
    assert pipeline.subgraph_from("train_b") == ["train_b", "evaluate"]
    assert pipeline.subgraph_from("evaluate") == ["evaluate"]


def test_given_unknown_step_when_asking_downstream_then_not_found_with_suggestion(
    project: Path,
) -> None:
    pipeline = Pipeline.from_yaml(write_yaml(project, DIAMOND))

    with pytest.raises(NotFound, match=r"no step 'evalute' \(did you mean 'evaluate'\?\)"):
        pipeline.subgraph_from("evalute")


def test_given_pipeline_without_steps_when_validated_then_reported() -> None:
    with pytest.raises(InvalidInput, match="pipeline 'p' has no steps"):
        Pipeline("p", []).validate()
