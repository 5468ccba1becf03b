-- One row per rejected input row, kept whole with its file and line (SPEC §2.1, §6.1).
with

events as (
    select
        'events' as feed,
        source_file,
        line_number,
        raw_payload,
        quarantine_reason as reason,
        ingested_at,
        load_batch_id
    from {{ ref('int_events_validated') }}
    where quarantine_reason is not null
),

customers as (
    select 'customers' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_customers_validated') }}
    where quarantine_reason is not null
),

subscriptions as (
    select 'subscriptions' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_subscriptions_validated') }}
    where quarantine_reason is not null
),

purchases as (
    select 'purchases' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_purchases_validated') }}
    where quarantine_reason is not null
),

grants as (
    select 'grants' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_grants_feed_validated') }}
    where quarantine_reason is not null
),

auto_topups as (
    select 'auto_topups' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_auto_topups_validated') }}
    where quarantine_reason is not null
),

voids as (
    select 'voids' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_voids_validated') }}
    where quarantine_reason is not null
),

refunds as (
    select 'refunds' as feed, source_file, line_number, raw_payload, quarantine_reason as reason, ingested_at, load_batch_id
    from {{ ref('int_refunds_validated') }}
    where quarantine_reason is not null
)

select * from events
union all
select * from customers
union all
select * from subscriptions
union all
select * from purchases
union all
select * from grants
union all
select * from auto_topups
union all
select * from voids
union all
select * from refunds
