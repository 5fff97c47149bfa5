"""The shape of the package, checked on its source: what import-linter (``make lint``) cannot
see. The layer, SQL and framework rules and the absence of import cycles are import-linter
contracts in pyproject.toml."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupyter_mlops

PACKAGE = Path(jupyter_mlops.__file__).parent
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def test_given_the_package_then_no_module_imports_a_private_name_of_another() -> None:
    found = []
    for path in SOURCES:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _absolute(module, node, path.name == "__init__.py")
            if not source.startswith("jupyter_mlops") or source == module:
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private or any(p.startswith("_") for p in source.split(".")[1:]):
                    found.append(f"{module}:{node.lineno} imports {source}.{alias.name}")
    assert found == []


def _files_matching(pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return sorted(
        str(p.relative_to(PACKAGE)) for p in SOURCES if regex.search(p.read_text(encoding="utf-8"))
    )


def test_given_the_package_then_the_id_pattern_lives_in_one_place() -> None:
    # Routes, the Client and the CLI take it from entities.py.
    assert _files_matching(r"\[0-9a-f(A-F)?\]\{") == ["entities.py"]


def test_given_the_package_then_status_colours_and_run_rendering_live_in_views() -> None:
    assert _files_matching(
        r"#[0-9a-fA-F]{6}['\"]?[,}]?.*(FINISHED|FAILED|KILLED)|STATUS_COLORS ="
    ) == ["views.py"]
    # One run as text and as HTML: views.run_summary_text / run_summary_html / run_detail_text.
    assert _files_matching(
        r"def (_?summary_(text|html)|run_summary_(text|html)|run_detail_text)"
    ) == ["views.py"]


def test_given_the_package_then_nothing_outside_the_client_and_stores_reaches_client_store() -> (
    None
):
    outside = [
        p
        for p in _files_matching(r"\.store\.[a-z_]+\(|client\.store\b")
        if not p.startswith(("client/", "store/"))
    ]
    assert outside == []
