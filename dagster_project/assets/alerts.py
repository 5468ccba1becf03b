"""Notifications: new alerts go to an outbox once, never twice across runs."""

import json
import os

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.atomic_files import remove_stale_temp_files
from dagster_project.assets.ingest import progress_line
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings


@asset(
    key=["alerts", "outbox"],
    group_name="alerts",
    deps=[get_asset_key_for_model([credits_dbt_assets], "fct_alerts")],
)
def alert_outbox(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """Alerts not sent before are recorded in `raw.alerts_sent` and the outbox,
    `<reports>/alerts/outbox.jsonl`, is rewritten from that table (atomically): one line
    per alert ever sent, in sending order, each alert_id once. A consumer reads new lines."""
    resolved = settings.resolve()
    with settings.connection() as con:
        added = con.execute(
            """
            insert into raw.alerts_sent
            select alert_id, customer_id, alert_type, triggered_at, details::varchar, ?
            from marts.fct_alerts
            where alert_id not in (select alert_id from raw.alerts_sent)
            """,
            [resolved.as_of],
        ).fetchall()[0][0]
        rows = con.execute(
            "select alert_id, customer_id, alert_type, triggered_at, details, sent_at "
            "from raw.alerts_sent order by sent_at, triggered_at, alert_id"
        ).fetchall()
    outbox = resolved.reports / "alerts" / "outbox.jsonl"
    outbox.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(outbox.parent)  # a killed run's; this run holds the writer lock
    tmp = outbox.with_name(f"{outbox.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        for alert_id, customer_id, alert_type, triggered_at, details, sent_at in rows:
            line = {
                "alert_id": alert_id,
                "customer_id": customer_id,
                "alert_type": alert_type,
                "triggered_at": triggered_at.isoformat(),
                "details": json.loads(details) if details else {},
                "sent_at": sent_at.isoformat(),
            }
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    os.replace(tmp, outbox)
    if added:
        progress_line(f"  alerts: {added} new in {outbox}")
    return MaterializeResult(metadata={"new_alerts": added, "outbox_lines": len(rows)})
