"""A real JupyterLab on a seeded store, driven by Playwright in Debian's Chromium.

Screenshots go to tests/artifacts/ (kept by CI as test artifacts, ignored by git).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from servers import jupyter_process

CHROMIUM = os.environ.get("JUPYTER_MLOPS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "mlops-browser-test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    store: Path
    ids: dict[str, str]

    def open_url(self, path: str = "lab") -> str:
        return f"{self.url}{path}?token={self.token}"


def _seed(root: Path, store: Path) -> dict[str, str]:
    """Runs made by executing a real notebook (so 'Go to cell' has a cell to go to), plus
    runs written through the Client, one of them named with an XSS payload."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.pipelines.notebook import execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell(
            "%%track -e browser\n# first model\nalpha = 0.1\nacc = 0.8\n"
            "import jupyter_mlops as mlops\n"
            "for i in range(20):\n    mlops.log_metric('loss', 1 / (i + 1))"
        ),
        nbformat.v4.new_code_cell("%%track -e browser\n# second model\nalpha = 0.5\nacc = 0.9"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "train.ipynb")
    execute_notebook(
        root / "train.ipynb", env={"JUPYTER_MLOPS_STORE": f"sqlite:///{store / 'mlops.db'}"}
    )
    client = Client(store)
    ids = {r.info.name: r.id for r in client.search_runs(experiment="browser")}
    xss = client.create_run("browser", "<img src=x onerror=window.__xss=1>")
    client.log_params(xss, {"payload": "<script>window.__xss=2</script>"})
    client.end_run(xss)
    ids["xss"] = xss
    client.close()
    return ids


@contextlib.contextmanager
def start_lab(root: Path, store: Path, ids: dict[str, str] | None = None) -> Iterator[Lab]:
    """A `jupyter lab` serving ``root`` on ``store``, stopped on exit; its log is next to
    ``root`` (``<root>.log``)."""
    args = [
        f"--MlopsApp.store={store}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with jupyter_process("jupyterlab", root, TOKEN, args) as url:
        yield Lab(url, TOKEN, root, store, ids or {})


NO_BROWSER = (
    "no Chromium at {path}: the browser tests are skipped (make test installs it when run as "
    "root; or apt-get install chromium)"
)


def require_chromium() -> None:
    """Skip (one reason for every browser test) when there is no browser to drive."""
    if not Path(CHROMIUM).exists():
        pytest.skip(NO_BROWSER.format(path=CHROMIUM))
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Lab]:
    require_chromium()
    root = tmp_path_factory.mktemp("lab-root")
    store = root / ".mlops"
    store.mkdir()
    ids = _seed(root, store)
    with start_lab(root, store, ids) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it
    # lives, which the asyncio fixtures of the server tests that follow must not find.
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """pytest-jupyter's autouse fixture would close the event loop Playwright's sync API is
    running; browser tests use no asyncio of their own, so it is switched off here."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    """Likewise: these tests start their own lab in a subprocess, not an in-process server."""
    yield None
