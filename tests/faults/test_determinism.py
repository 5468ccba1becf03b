"""Two runs from scratch of the same commands on the same landing directory and clock give
the same warehouse and the same files, byte for byte.

Each run is `credits run`, `credits close 2026-02` (closing January and February, writing
their statements, invoices and credit notes) and `credits export journals 2026-02`, each a
process of its own as a user types them, at the same paths: the first run's directory is
moved aside before the second starts from nothing. The two runs get different
PYTHONHASHSEEDs, so an order that leaked from a Python set or dict of strings would show.
Compared: every table of marts and reporting (warehouse.table_checksums), the raw tables
too (what the close decided: periods, invoice numbers, frozen figures, alerts sent; the
load columns left out), and every file under the reports directory: PDFs, the journals
CSV, the alerts outbox.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from credits_warehouse.sample_data.generate import generate
from credits_warehouse.warehouse import table_checksums

pytestmark = pytest.mark.faults

AS_OF = "2026-03-01T00:00:00"
PERIOD = "2026-02"
HASH_SEEDS = ("1", "2")


def _credits(args: list[str], hash_seed: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": hash_seed}
    return subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-m", "dagster_project.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[dict]:
    root = tmp_path_factory.mktemp("determinism")
    generated = generate(
        root / "generated", customers=6, events=3_000, start=dt.date(2026, 1, 1), months=2,
        seed=3,
    )  # fmt: skip
    work = root / "work"
    flags = [
        "--landing", str(generated.landing),
        "--catalog", str(generated.catalog),
        "--warehouse", str(work / "warehouse.duckdb"),
        "--reports", str(work / "reports"),
        "--as-of", AS_OF,
    ]  # fmt: skip
    commands = [["run"], ["close", PERIOD], ["export", "journals", PERIOD]]
    out = []
    for n, hash_seed in enumerate(HASH_SEEDS):
        work.mkdir()
        for command in commands:
            done = _credits([*command, *flags], hash_seed)
            assert done.returncode == 0, f"credits {' '.join(command)}: {done.stderr[-2000:]}"
        kept = work.rename(root / f"run-{n}")
        warehouse = kept / "warehouse.duckdb"
        out.append(
            {
                "marts": table_checksums(warehouse),
                "raw": table_checksums(warehouse, schemas=("raw",)),
                "files": _files(kept / "reports"),
            }
        )
    return out


def test_every_mart_and_report_is_identical(runs):
    first, second = runs
    assert len(first["marts"]) >= 18
    assert first["marts"]["marts.fct_invoices"][0] > 0
    assert {t: v for t, v in second["marts"].items() if first["marts"].get(t) != v} == {}
    assert set(second["marts"]) == set(first["marts"])


def test_the_raw_tables_are_identical(runs):
    first, second = runs
    for table in ("raw.period_closes", "raw.invoice_numbers", "raw.frozen_figures"):
        assert first["raw"][table][0] > 0
    assert {t: v for t, v in second["raw"].items() if first["raw"].get(t) != v} == {}
    assert set(second["raw"]) == set(first["raw"])


def test_every_file_is_byte_identical(runs):
    first, second = runs
    names = set(first["files"])
    pdfs = {n for n in names if n.endswith(".pdf")}
    assert {n.split("/")[0] for n in pdfs} == {"2026-01", "2026-02"}
    assert any("/statements/" in n for n in pdfs) and any("/invoices/" in n for n in pdfs)
    assert f"{PERIOD}/journals-{PERIOD}.csv" in names
    assert set(second["files"]) == names
    differing = sorted(n for n in names if first["files"][n] != second["files"][n])
    assert differing == []
