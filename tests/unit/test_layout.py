"""The package's seams: `credits_warehouse` is the library and never imports the
orchestrator; `dagster_project` is the wiring; the dbt project's Python model calls the
library, not the wiring."""

from __future__ import annotations

import ast
from pathlib import Path

import credits_warehouse
from dagster_project.resources import DBT_PROJECT_DIR

LIBRARY = Path(credits_warehouse.__file__).parent
ORCHESTRATION = {
    "dagster",
    "dagster_dbt",
    "dagster_pandera",
    "dagster_webserver",
    "dagster_project",
}


def imported_top_levels(path: Path) -> set[str]:
    """Every top-level module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_never_imports_the_orchestrator():
    files = sorted(LIBRARY.rglob("*.py"))
    assert len(files) > 20
    offenders = {
        str(p.relative_to(LIBRARY)): sorted(imported_top_levels(p) & ORCHESTRATION) for p in files
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_dbt_python_models_call_the_library_not_the_wiring():
    models = sorted((DBT_PROJECT_DIR / "models").rglob("*.py"))
    assert models
    for model in models:
        imported = imported_top_levels(model)
        assert not imported & ORCHESTRATION, model.name
        assert "credits_warehouse" in imported, model.name


LONGEST_FUNCTION = 80  # lines; a longer one needs a comment that says why


def _long_functions(root: Path) -> list[str]:
    """Functions longer than LONGEST_FUNCTION lines with no `# long:` comment saying why."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            body = lines[node.lineno - 1 : node.end_lineno]
            if length > LONGEST_FUNCTION and not any("# long:" in line for line in body):
                found.append(
                    f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({length})"
                )
    return found


def test_functions_read_on_one_screen():
    """No function in the library or the wiring runs past 80 lines unless a `# long:`
    comment inside it says why."""
    assert _long_functions(LIBRARY) + _long_functions(LIBRARY.parent / "dagster_project") == []


def test_the_wiring_opens_the_warehouse_through_its_resource():
    """Dagster code reaches the warehouse through `CreditsSettings.connection()`, which
    holds the writer lock for the run and closes each connection before dbt starts; only the
    resource itself and the CLI (which locks the real file around its working copy) call
    `connect`."""
    wiring = LIBRARY.parent / "dagster_project"
    # Not calls: the resource's own method, and dbt_ahead's Unix socket (`connection`).
    not_the_warehouse = ("settings.connection(", "connection.connect(")
    direct = [
        str(path.relative_to(wiring))
        for path in sorted(wiring.rglob("*.py"))
        if path.name not in {"resources.py", "cli.py"}
        and "connect(" in _without(path.read_text(encoding="utf-8"), not_the_warehouse)
    ]
    assert direct == []


def _without(text: str, fragments: tuple[str, ...]) -> str:
    for fragment in fragments:
        text = text.replace(fragment, "")
    return text
