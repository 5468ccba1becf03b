-- One row per accepted billable event and matching aggregator (SPEC §6.1), for analysts.
select
    event_id,
    dedup_key,
    customer_id,
    event_at,
    ingested_at,
    period,
    aggregator_id,
    credit_product_id,
    units,
    credits_per_unit,
    credits,
    is_late,
    dimensions
from {{ ref('int_events_rated') }}
