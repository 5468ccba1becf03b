"""A command writes a copy of the warehouse and swaps it in only on success (contract §7),
with the copy made in a thread while the command starts up (credits_warehouse/warehouse.py).
Plain files stand in for the DuckDB file: only the copy and the swap are under test."""

from pathlib import Path

import pytest

from credits_warehouse.warehouse import (
    transactional_copy,
    transactional_copy_in_background,
    working_copy_path,
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"before" * 100_000)
    return path


def _leftovers(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.parent.iterdir() if p != warehouse)


def test_the_block_writes_the_copy_and_success_swaps_it_in(warehouse):
    with transactional_copy_in_background(warehouse) as copying:
        work = copying.result()
        assert work == working_copy_path(warehouse)
        assert work.read_bytes() == b"before" * 100_000
        work.write_bytes(b"after")
        assert warehouse.read_bytes() == b"before" * 100_000  # analysts still read the old
    assert warehouse.read_bytes() == b"after"
    assert _leftovers(warehouse) == []


def test_a_block_that_never_waits_for_the_copy_publishes_it_whole(warehouse):
    with transactional_copy_in_background(warehouse):
        pass
    assert warehouse.read_bytes() == b"before" * 100_000
    assert _leftovers(warehouse) == []


def test_an_error_before_the_copy_is_used_leaves_the_warehouse_and_no_copy(warehouse):
    with pytest.raises(KeyError), transactional_copy_in_background(warehouse):
        raise KeyError("a step failed while the copy was being made")
    assert warehouse.read_bytes() == b"before" * 100_000
    assert _leftovers(warehouse) == []


def test_an_error_after_writing_the_copy_discards_it(warehouse):
    with pytest.raises(RuntimeError), transactional_copy(warehouse) as work:
        work.write_bytes(b"half written")
        raise RuntimeError("dbt failed")
    assert warehouse.read_bytes() == b"before" * 100_000
    assert _leftovers(warehouse) == []


def test_a_copy_that_fails_raises_where_the_block_waits_for_it(tmp_path):
    folder = tmp_path / "not-a-file.duckdb"
    folder.mkdir()  # copying a directory as a file fails in the thread
    with pytest.raises(IsADirectoryError), transactional_copy_in_background(folder) as copying:
        copying.result()
    assert folder.is_dir()
    assert not working_copy_path(folder).exists()


def test_a_new_warehouse_has_nothing_to_copy(tmp_path):
    new = tmp_path / "new.duckdb"
    with transactional_copy(new) as work:
        assert not work.exists()
        work.write_bytes(b"first build")
    assert new.read_bytes() == b"first build"
