"""A multi-GB landing file streams through ingest with bounded memory: it is read in blocks
(credits_warehouse/ingest.py READ_BLOCK_BYTES), so the loading process's peak memory stays
well below the file's size, and every line lands."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import query

pytestmark = pytest.mark.faults

FILE_BYTES = 2 << 30  # 2 GiB of JSON lines
PEAK_LIMIT = 1536 << 20  # the loader may peak at 1.5 GiB, three quarters of the file

LOADER = """
import datetime as dt, sys
from pathlib import Path
from credits_warehouse.ingest import load_landing
from credits_warehouse.warehouse import connect
con = connect(Path(sys.argv[2]))
batch = load_landing(con, Path(sys.argv[1]), dt.datetime(2026, 4, 1))
con.close()
print(batch.rows["events"])
"""


def _write_big_file(path: Path) -> int:
    """FILE_BYTES of distinct valid events, written a block at a time; returns the lines."""
    path.parent.mkdir(parents=True)
    template = {
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-05T10:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 1000, "user_id": "u1", "pad": "p" * 120},
    }
    tail = json.dumps(template, separators=(",", ":"))[1:]
    per_block = 200_000
    written = lines = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < FILE_BYTES:
            block = "".join(
                f'{{"event_id":"e{lines + i}",{tail}\n' for i in range(per_block)
            )  # fmt: skip
            fh.write(block)
            written += len(block)
            lines += per_block
    return lines


def test_a_2_gib_file_loads_in_bounded_memory(tmp_path):
    landing = tmp_path / "landing"
    lines = _write_big_file(landing / "events" / "big.jsonl")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "CREDITS_DUCKDB_MEMORY_LIMIT": "512MB"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    loaded = subprocess.run(  # noqa: S603 - a fixed argv
        [sys.executable, "-c", LOADER, str(landing), str(warehouse)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    assert before * 1024 < PEAK_LIMIT, "an earlier child already peaked past the limit"
    assert int(loaded.stdout.split()[-1]) == lines
    assert query(warehouse, "select count(*), max(line_number) from raw.events") == [(lines, lines)]
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB for a 2 GiB file"
