"""The synthetic landing generator (`credits generate`, contract §2 and §7).

The files are read back with plain readers (csv, json, gzip, pyarrow) and the events are
classified by a small reference reading of contract §2.1, independent of the ingest code.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from credits_warehouse.catalog import load_catalog
from credits_warehouse.ingest import FEED_COLUMNS as INGEST_FEED_COLUMNS
from credits_warehouse.quarantine import EVENT_REASONS
from credits_warehouse.sample_data.generate import DEFAULT_CATALOG, generate

START = dt.date(2026, 1, 1)
END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SMALL = {"customers": 20, "events": 5_000, "start": START, "months": 2, "seed": 11}
NAMED = {"event_id", "idempotency_key", "customer_id", "event_type", "timestamp", "properties"}
FEED_COLUMNS = {feed: list(columns) for feed, columns in INGEST_FEED_COLUMNS.items()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    return out, generate(out, **SMALL)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read_csv(landing: Path, feed: str) -> list[dict[str, str]]:
    with (landing / f"{feed}.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == FEED_COLUMNS[feed]
        return list(reader)


def _ts(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _event_rows(landing: Path):
    """(file, raw) in load order: path, then line. raw is a text line or a dict."""
    files = sorted(p for p in (landing / "events").rglob("*") if p.is_file())
    for path in files:
        rel = path.relative_to(landing).as_posix()
        if path.name.endswith(".jsonl.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    yield rel, line.rstrip("\n")
        elif path.name.endswith(".jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                yield rel, line
        elif path.name.endswith(".json"):
            for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
                yield rel, event
        elif path.name.endswith(".parquet"):
            for row in pq.read_table(path).to_pylist():
                if "properties" in row:
                    props = json.loads(row["properties"])
                else:
                    props = {k: v for k, v in row.items() if k not in NAMED and v is not None}
                event = {k: v for k, v in row.items() if k in NAMED and v is not None}
                event["properties"] = props
                yield rel, event
        else:
            raise AssertionError(f"unexpected event file {rel}")


def _classify(landing: Path, clock: dt.datetime):
    """A reference reading of contract §2.1: (accepted events, quarantine reasons)."""
    customers = _read_csv(landing, "customers")
    known = {c["customer_id"] for c in customers} | {c["external_id"] for c in customers}
    seen: dict[str, dict] = {}
    accepted: list[tuple[str, dict]] = []
    reasons: Counter[str] = Counter()
    for rel, raw in _event_rows(landing):
        if isinstance(raw, str):
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                reasons["malformed"] += 1
                continue
        else:
            event = raw
        if not isinstance(event, dict):
            reasons["malformed"] += 1
            continue
        if any(not event.get(f) for f in ("customer_id", "event_type", "timestamp")):
            reasons["missing_field"] += 1
            continue
        try:
            at = _ts(event["timestamp"])
        except ValueError:
            reasons["bad_timestamp"] += 1
            continue
        if event["customer_id"] not in known:
            reasons["unknown_customer"] += 1
            continue
        tokens = event.get("properties", {}).get("tokens")
        if event["event_type"] == "llm_token_usage":
            if isinstance(tokens, bool) or not isinstance(tokens, int | float):
                reasons["non_numeric_quantity"] += 1
                continue
            if tokens < 0:
                reasons["negative_quantity"] += 1
                continue
        if at > clock + dt.timedelta(days=1):
            reasons["future_timestamp"] += 1
            continue
        key = event.get("idempotency_key") or event.get("event_id")
        assert key, "every generated event has an event_id"
        if key in seen:
            same = seen[key] == event
            reasons["duplicate" if same else "conflicting_duplicate"] += 1
            continue
        seen[key] = event
        accepted.append((rel, {**event, "at": at}))
    return accepted, reasons


def test_same_seed_is_byte_identical_and_another_seed_differs(tmp_path):
    args = {**SMALL, "events": 2_000}
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    generate(tmp_path / "c", **{**args, "seed": args["seed"] + 1})
    a, b, c = (_digests(tmp_path / name) for name in "abc")
    assert a == b
    assert len(a) > 10
    differs = [name for name in a if a[name] != c.get(name)]
    assert "landing/customers.csv" in differs
    assert any(name.startswith("landing/events/") for name in differs)


def test_scoped_promos_change_only_the_grants_feed(tmp_path, small):
    # `--scoped-promos` (contract §8.1): a quarter of the 20 customers, 5, get a launch
    # promotion for fast tokens only; every other file is byte for byte the one the same
    # arguments write without it, and so is every other grant, but for its number. The grant
    # amendments name grants by number, and may amend a promotion too, so they differ as well.
    out, _ = small
    generate(tmp_path / "scoped", **SMALL, scoped_promos=True)
    plain, scoped = _digests(out), _digests(tmp_path / "scoped")
    assert [name for name in plain if plain[name] != scoped[name]] == [
        "landing/grant_amendments.csv",
        "landing/grants.csv",
    ]
    with (tmp_path / "scoped" / "landing" / "grants.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [*FEED_COLUMNS["grants"], "applies_to"]
        rows = list(reader)
    promos = [r for r in rows if r["applies_to"]]
    assert len(promos) == 5 == len({r["customer_id"] for r in promos})
    assert {(r["applies_to"], r["credits"], r["priority"]) for r in promos} == {
        ("nova_fast_tokens", "2000", "10")
    }
    assert all(
        _ts(r["expires_at"]) - _ts(r["effective_at"]) == dt.timedelta(days=30) for r in promos
    )
    unscoped = [{k: v for k, v in r.items() if k not in ("grant_id", "applies_to")}
                for r in rows if not r["applies_to"]]  # fmt: skip
    assert unscoped == [
        {k: v for k, v in r.items() if k != "grant_id"}
        for r in _read_csv(out / "landing", "grants")
    ]
    assert [r["grant_id"] for r in rows] == [f"gr_{k:06d}" for k in range(1, len(rows) + 1)]


def test_layout_and_every_file_parses(small):
    out, summary = small
    landing = out / "landing"
    assert (out / "catalog.yml").read_bytes() == DEFAULT_CATALOG.read_bytes()
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert list(summary.files) == on_disk

    for feed, count in summary.feeds.items():
        assert len(_read_csv(landing, feed)) == count > 0, feed

    expected = {
        "events/2026/01/events-2026-01-part-001.jsonl.gz",
        "events/2026/01/events-2026-01-part-002.jsonl",
        "events/2026/01/events-2026-01-part-003.parquet",
        "events/2026/01/events-2026-01-part-004.parquet",
        "events/2026/02/events-2026-02-part-001.jsonl.gz",
        "events/2026/02/events-2026-02-part-002.jsonl",
        "events/2026/02/events-2026-02-part-003.parquet",
        "events/2026/02/late-from-2026-01.jsonl",
        "events/api/batch-0001.json",
    }
    events = {p.relative_to(landing).as_posix() for p in (landing / "events").rglob("*.*")}
    assert events == expected

    flat = pq.read_table(landing / "events/2026/02/events-2026-02-part-003.parquet")
    assert flat.column_names == [
        "event_id",
        "idempotency_key",
        "customer_id",
        "event_type",
        "timestamp",
        "model",
        "tokens",
        "user_id",
    ]
    assert str(flat.schema.field("timestamp").type) == "string"
    as_json = pq.read_table(landing / "events/2026/01/events-2026-01-part-004.parquet")
    assert as_json.column_names[-1] == "properties"
    assert all(isinstance(json.loads(p), dict) for p in as_json.column("properties").to_pylist())
    envelope = json.loads((landing / "events/api/batch-0001.json").read_text())
    assert 50 <= len(envelope["events"]) <= 300

    # Every JSONL line is JSON except the deliberately malformed ones.
    bad = sum(_unparsable(raw) for _, raw in _event_rows(landing))
    assert bad == summary.quarantine["malformed"]


def _unparsable(raw) -> bool:
    if not isinstance(raw, str):
        return False
    try:
        json.loads(raw)
    except json.JSONDecodeError:
        return True
    return False


def test_events_counts_and_every_quarantine_reason(small):
    out, summary = small
    accepted, reasons = _classify(out / "landing", END)
    assert len(accepted) == summary.events == SMALL["events"]
    assert dict(reasons) == {k: v for k, v in summary.quarantine.items() if v}
    # Unreadable files and absurd quantities are the fault suite's (tests/faults), not
    # everyday dirty data.
    for reason in set(EVENT_REASONS) - {"unreadable_file", "quantity_out_of_range"}:
        assert reasons[reason] >= 1, reason
    assert 0.007 <= summary.duplicates / summary.events <= 0.013
    assert summary.event_rows == len(accepted) + sum(reasons.values())
    assert summary.malformed == sum(
        v for k, v in reasons.items() if k not in ("duplicate", "conflicting_duplicate")
    )
    non_billable = sum(1 for _, e in accepted if e["event_type"] != "llm_token_usage")
    assert non_billable == summary.non_billable
    assert 0.005 <= non_billable / len(accepted) <= 0.04


def test_valid_events_are_in_range_and_realistic(small):
    out, summary = small
    landing = out / "landing"
    accepted, _ = _classify(landing, END)
    start = dt.datetime.combine(START, dt.time(), dt.UTC)
    assert all(start <= e["at"] < END for _, e in accepted)

    # Late events sit in the next month's folder, with timestamps in the month they name.
    late = [(rel, e) for rel, e in accepted if "/late-from-" in rel]
    assert len(late) == summary.late > 0
    assert all(e["at"].month == 1 for _, e in late)

    stamps = [e["timestamp"] for _, e in accepted]
    assert sum(s.endswith("+02:00") for s in stamps) > 0.03 * len(stamps)
    assert sum(s.endswith("Z") for s in stamps) > 0.8 * len(stamps)
    assert any(len(s) == len("2026-01-01T00:00:00") for s in stamps)  # naive: UTC
    assert sum("idempotency_key" in e for _, e in accepted) > 0.1 * len(accepted)

    customers = _read_csv(landing, "customers")
    external = {c["external_id"] for c in customers}
    by_external = sum(1 for _, e in accepted if e["customer_id"] in external)
    assert 0.05 <= by_external / len(accepted) <= 0.15

    models = Counter(e["properties"]["model"] for _, e in accepted if "model" in e["properties"])
    total = sum(models.values())
    assert abs(models["nova-fast"] / total - 0.6) < 0.05
    assert abs(models["nova-pro"] / total - 0.3) < 0.05
    assert abs(models["nova-ultra"] / total - 0.1) < 0.03
    tokens = sorted(e["properties"]["tokens"] for _, e in accepted if "tokens" in e["properties"])
    assert all(isinstance(t, int) and t >= 1 for t in tokens)
    assert 900 <= tokens[len(tokens) // 2] <= 1500
    assert tokens[-1] > 10 * tokens[len(tokens) // 2]

    days = Counter(e["at"].date() for _, e in accepted)
    weekday = [days[d] for d in days if d.weekday() < 5]
    weekend = [days[d] for d in days if d.weekday() >= 5]
    ratio = (sum(weekday) / len(weekday)) / (sum(weekend) / len(weekend))
    assert 1.8 <= ratio <= 3.5
    users: dict[str, set] = {}
    for _, e in accepted:
        users.setdefault(e["customer_id"], set()).add(e["properties"]["user_id"])
    assert max(len(u) for u in users.values()) <= 8


def test_reference_feeds_hang_together(small):
    out, _ = small
    landing = out / "landing"
    catalog = load_catalog(out / "catalog.yml")
    start = dt.datetime.combine(START, dt.time(), dt.UTC)

    def in_range(text: str) -> bool:
        return start <= _ts(text) < END

    customers = {c["customer_id"]: c for c in _read_csv(landing, "customers")}
    for c in customers.values():
        assert c["currency"] == ("EUR" if c["country"] in ("DE", "FR", "NL") else "USD")
        assert _ts(c["created_at"]) <= start
    assert any("&" in c["name"] for c in customers.values())
    assert any("'" in c["name"] for c in customers.values())

    subscriptions = _read_csv(landing, "subscriptions")
    assert {s["plan_id"] for s in subscriptions} <= {p.id for p in catalog.plans}
    assert all(in_range(s["started_at"]) for s in subscriptions)
    ended = [s for s in subscriptions if s["ended_at"]]
    assert ended and all(s["plan_id"] == "free" for s in ended)
    for s in ended:
        assert any(
            t["customer_id"] == s["customer_id"]
            and t["plan_id"] == "pro"
            and t["started_at"] == s["ended_at"]
            for t in subscriptions
        )
    assert len({s["customer_id"] for s in subscriptions}) < len(customers)

    purchases = _read_csv(landing, "purchases")
    bundles = {b.id: b for b in catalog.bundles}
    broken = []
    for p in purchases:
        assert in_range(p["purchased_at"])
        if p["bundle_id"] not in bundles or p["currency"] not in ("USD", "EUR"):
            broken.append(p)
            continue
        assert p["currency"] == customers[p["customer_id"]]["currency"]
        price = bundles[p["bundle_id"]].prices[p["currency"]]
        assert int(p["amount_paid"]) == price * int(p["quantity"])
    assert sorted((p["bundle_id"] == "pack_unknown", p["currency"]) for p in broken) == [
        (False, "usd"),
        (True, "USD"),
    ]
    statuses = Counter(p["status"] for p in purchases)
    assert set(statuses) == {"succeeded", "failed", "refunded"}

    refunds = _read_csv(landing, "refunds")
    refunded = {p["purchase_id"]: p for p in purchases if p["status"] == "refunded"}
    assert sorted(r["purchase_id"] for r in refunds) == sorted(refunded)
    for r in refunds:
        assert _ts(refunded[r["purchase_id"]]["purchased_at"]) < _ts(r["refunded_at"]) < END

    grants = _read_csv(landing, "grants")
    assert {g["kind"] for g in grants} == {
        "promotional",
        "compensation",
        "referral",
        "starting_balance",
        "adjustment",
    }
    assert [g["customer_id"] for g in grants if g["customer_id"] not in customers] == ["cus_99999"]
    for g in grants:
        assert in_range(g["effective_at"])
        if g["expires_at"]:
            assert _ts(g["expires_at"]) > _ts(g["effective_at"])
        if float(g["credits"]) < 0:
            assert g["kind"] == "adjustment"
    assert any(g["reason"] == "welcome" and g["credits"] == "500" for g in grants)

    for t in _read_csv(landing, "auto_topups"):
        assert t["bundle_id"] in bundles and t["customer_id"] in customers
        assert in_range(t["enabled_from"])
        assert not t["enabled_to"] or _ts(t["enabled_from"]) < _ts(t["enabled_to"]) < END

    accepted, _ = _classify(landing, END)
    at = {e["event_id"]: e["at"] for _, e in accepted}
    voids = _read_csv(landing, "voids")
    assert len(voids) >= 5
    for v in voids:
        assert at[v["event_id"]] < _ts(v["voided_at"]) < END


def test_non_empty_landing_is_refused_unless_overwritten(tmp_path):
    args = {**SMALL, "events": 500, "months": 1}
    generate(tmp_path, **args)
    with pytest.raises(FileExistsError):
        generate(tmp_path, **args)
    before = _digests(tmp_path)
    messages: list[str] = []
    generate(tmp_path, **args, overwrite=True, progress=messages.append)
    assert _digests(tmp_path) == before
    assert messages
