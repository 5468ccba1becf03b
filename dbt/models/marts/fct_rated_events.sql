-- One row per accepted billable event and matching aggregator (contract §6.1), for analysts.
-- `period` is the period it is billed in: a late event's is the first period open when it
-- arrived, and `booked_at` is when the ledger debits it.
-- A view: the rated events are stored once, in int_events_rated, which grows by load batch;
-- a second copy cost a full rewrite of every rated event on every run.
{{ config(materialized='view') }}
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
    booked_at,
    dimensions
from {{ ref('int_events_rated') }}
