"""A snapshot of the asset graph: every asset key with its group and partitioning, and
every asset check. A change to the graph shows up as a diff of asset_graph.txt; after a
deliberate change, rewrite it with `UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/dagster`."""

import os
from pathlib import Path

from dagster_project.definitions import defs

SNAPSHOT = Path(__file__).with_name("asset_graph.txt")


def asset_graph_lines() -> list[str]:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitioned = " partitioned" if node.partitions_def is not None else ""
        kind = "asset" if node.is_materializable else "source"
        lines.append(f"{kind} {key.to_user_string()} [{node.group_name}]{partitioned}")
    for check in sorted(
        graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)
    ):
        lines.append(f"check {check.asset_key.to_user_string()} :: {check.name}")
    return lines


def test_the_asset_graph_matches_its_snapshot():
    lines = asset_graph_lines()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lines == SNAPSHOT.read_text(encoding="utf-8").splitlines()


def test_every_mart_has_a_check():
    lines = asset_graph_lines()
    marts = [ln.split()[1] for ln in lines if ln.startswith("asset marts/")]
    checked = {ln.split()[1] for ln in lines if ln.startswith("check marts/")}
    assert len(marts) == 17
    assert set(marts) <= checked
