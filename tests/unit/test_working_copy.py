"""A command writes a copy of the warehouse and swaps it in only on success (contract §7),
with the copy made in a thread while the command starts up (credits_warehouse/warehouse.py).
Plain files stand in for the DuckDB file: only the copy and the swap are under test."""

import os
from pathlib import Path

import pytest

from credits_warehouse.warehouse import (
    copy_warehouse_file,
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


@pytest.mark.parametrize("size", [0, 4096, 8 << 20, (8 << 20) + 3 * 4096 + 17])
def test_the_copy_is_byte_for_byte_at_any_size(tmp_path, size):
    """Direct I/O moves aligned 8 MiB blocks; a file of several, with a tail shorter than a
    block, arrives whole."""
    source, target = tmp_path / "source.duckdb", tmp_path / "target.duckdb"
    source.write_bytes(os.urandom(size))
    copy_warehouse_file(source, target)
    assert target.read_bytes() == source.read_bytes()


def test_without_direct_io_the_copy_goes_through_the_page_cache(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECT", raising=False)
    source, target = tmp_path / "source.duckdb", tmp_path / "target.duckdb"
    source.write_bytes(b"cached" * 1000)
    copy_warehouse_file(source, target)
    assert target.read_bytes() == b"cached" * 1000
