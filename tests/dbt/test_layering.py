"""The dbt project's layering, read from its manifest, so a model in the wrong place fails
here rather than in review:

- `source()` is read only by staging models, and `stg_<source>__<table>` reads its own source;
- marts and reports read intermediate models (or each other), never staging;
- each folder's models carry its prefix: stg_, int_, fct_/dim_, rpt_;
- every model and every source table is described, and so is every column a model declares
  (marts and reports declare all of theirs: tests/dbt/test_contracts_and_docs.py).
"""

from __future__ import annotations

import json

import pytest

from dagster_project.dbt import ensure_manifest

PREFIXES = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_"),
    "reporting": ("rpt_",),
}
PUBLISHED = ("marts", "reporting")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def _layer(node: dict) -> str:
    return node["original_file_path"].split("/")[1]


def test_every_model_lives_in_a_known_layer_with_its_prefix(manifest):
    problems = []
    for name, node in _models(manifest).items():
        layer = _layer(node)
        if layer not in PREFIXES:
            problems.append(f"{name}: in models/{layer}/, not a layer")
        elif not name.startswith(PREFIXES[layer]):
            problems.append(f"{name}: in {layer}/ but not named {' or '.join(PREFIXES[layer])}*")
    assert not problems, "\n".join(problems)


def test_only_staging_reads_sources_each_its_own(manifest):
    problems = []
    for name, node in _models(manifest).items():
        sources = [d for d in node["depends_on"]["nodes"] if d.startswith("source.")]
        if sources and _layer(node) != "staging":
            problems.append(f"{name}: a {_layer(node)} model reads {sources}")
        for source in sources:
            source_name = manifest["sources"][source]["source_name"]
            if not name.startswith(f"stg_{source_name}__"):
                problems.append(f"{name}: reads source {source_name!r}")
    assert not problems, "\n".join(problems)


def test_marts_and_reports_never_read_staging(manifest):
    models = _models(manifest)
    by_id = {node["unique_id"]: node for node in models.values()}
    problems = [
        f"{name} reads {by_id[parent]['name']}"
        for name, node in models.items()
        if _layer(node) in PUBLISHED
        for parent in node["depends_on"]["nodes"]
        if parent in by_id and _layer(by_id[parent]) == "staging"
    ]
    assert not problems, "\n".join(problems)


def test_everything_is_described(manifest):
    problems = []
    for name, node in _models(manifest).items():
        if not node["description"].strip():
            problems.append(f"model {name}: no description")
        for column, spec in node["columns"].items():
            if not (spec.get("description") or "").strip():
                problems.append(f"{name}.{column}: no description")
    for source in manifest["sources"].values():
        if not source["description"].strip():
            problems.append(f"source {source['source_name']}.{source['name']}: no description")
    assert not problems, "\n".join(problems)
