"""Notifications: each alert goes to the outbox once, ever, as the data gives it.

The outbox, `<reports>/alerts/outbox.jsonl`, is the record of what was delivered: it only
grows, one line per alert, and a consumer reads the lines it has not read yet. A line is
the alert itself (`alert_id`, `customer_id`, `alert_type`, `triggered_at`, `details`),
sorted keys, no clock: the same alert is the same bytes whenever and however often the
warehouse is rebuilt. `raw.alerts_sent` records the alerts delivered, with the clock of the
run that recorded them (`sent_at`).

The outbox is written during a run, before the run's swap. A run killed between the two
delivered alerts that its warehouse never recorded; the next run, at whatever clock and on
whatever data, finds them in the outbox, records them and does not write them again. So an
alert is written only when it is neither in the outbox nor recorded as sent.
"""

import json
from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.atomic_files import remove_stale_temp_files, write_atomically
from dagster_project.assets.ingest import progress_line
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings

ALERT_FIELDS = ("alert_id", "customer_id", "alert_type", "triggered_at", "details")


@asset(
    key=["alerts", "outbox"],
    group_name="alerts",
    deps=[get_asset_key_for_model([credits_dbt_assets], "fct_alerts")],
)
def alert_outbox(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """Record the alerts delivered by a killed run (in the outbox, not in `raw.alerts_sent`),
    then append the alerts of `fct_alerts` that are in neither, in (triggered_at, alert_id)
    order, and record them as sent."""
    resolved = settings.resolve()
    outbox = resolved.reports / "alerts" / "outbox.jsonl"
    remove_stale_temp_files(outbox.parent)  # a killed run's; this run holds the writer lock
    existing = outbox.read_bytes() if outbox.exists() else b""
    delivered = delivered_alerts(existing, outbox)
    with settings.connection() as con:
        con.execute("create or replace temp table delivered (alert_id varchar, line varchar)")
        if delivered:
            con.executemany(
                "insert into delivered values (?, ?)",
                [[alert_id, json.dumps(line)] for alert_id, line in delivered.items()],
            )
        new = con.execute(
            """
            select alert_id, customer_id, alert_type, triggered_at, details
            from marts.fct_alerts
            where alert_id not in (select alert_id from raw.alerts_sent)
                and alert_id not in (select alert_id from delivered)
            order by triggered_at, alert_id
            """
        ).fetchall()
        # The data's own row where it still gives the alert (an alert_id is a hash of
        # what it says); the delivered line where it no longer does (less data by now).
        as_of = [resolved.as_of]
        con.execute(
            """
            insert into raw.alerts_sent
            select alert_id, customer_id, alert_type, triggered_at, details::varchar, ?
            from marts.fct_alerts
            where alert_id not in (select alert_id from raw.alerts_sent)
            """,
            as_of,
        )
        con.execute(
            """
            insert into raw.alerts_sent
            select
                alert_id, line->>'customer_id', line->>'alert_type',
                cast(line->>'triggered_at' as timestamp), line->'details', ?
            from (select alert_id, line::json as line from delivered)
            where alert_id not in (select alert_id from raw.alerts_sent)
            """,
            as_of,
        )
    lines = b"".join(outbox_line(dict(zip(ALERT_FIELDS, row, strict=True))) for row in new)
    if lines or not outbox.exists():
        write_atomically(existing + lines, outbox)
    if new:
        progress_line(f"  alerts: {len(new)} new in {outbox}")
    return MaterializeResult(
        metadata={"new_alerts": len(new), "outbox_lines": len(delivered) + len(new)}
    )


def outbox_line(alert: dict) -> bytes:
    """One alert as the outbox holds it: a function of the alert alone."""
    line = {
        **alert,
        "triggered_at": alert["triggered_at"].isoformat(),
        "details": json.loads(alert["details"]) if alert["details"] else {},
    }
    return (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")


def delivered_alerts(outbox_bytes: bytes, outbox: Path) -> dict[str, dict]:
    """The alerts in the outbox, by alert_id (the outbox is written whole, never in part)."""
    delivered = {}
    for number, text in enumerate(outbox_bytes.decode("utf-8").splitlines(), start=1):
        try:
            line = json.loads(text)
            delivered[line["alert_id"]] = line
        except (ValueError, TypeError, KeyError):
            raise ValueError(f"{outbox}:{number}: not an alert line: {text[:80]!r}") from None
    return delivered
