-- Reference-feed rows not yet used by the ledger (auto top-ups, voids, refunds), checked so
-- that broken rows are quarantined like events (SPEC §2.2). The ledger issue consumes them.
with

customers as (
    select customer_id from {{ ref('int_customers_validated') }} where is_current
),

bundles as (
    select bundle_id from {{ ref('stg_catalog__bundles') }}
),

auto_topups as (
    select
        'auto_topups' as feed,
        source_file, line_number, raw_payload, ingested_at,
        case
            when not is_object then 'malformed'
            when customer_id is null or bundle_id is null or threshold_credits is null then 'missing_field'
            when enabled_from is null then 'bad_timestamp'
            when customer_id not in (select customer_id from customers) then 'unknown_customer'
            when bundle_id not in (select bundle_id from bundles) then 'unknown_bundle'
            when max_per_period is not null and max_per_period < 0 then 'invalid_value'
        end as quarantine_reason
    from {{ ref('stg_landing__auto_topups') }}
),

voids as (
    select
        'voids' as feed,
        source_file, line_number, raw_payload, ingested_at,
        case
            when not is_object then 'malformed'
            when event_id is null then 'missing_field'
            when voided_at is null then 'bad_timestamp'
        end as quarantine_reason
    from {{ ref('stg_landing__voids') }}
),

refunds as (
    select
        'refunds' as feed,
        source_file, line_number, raw_payload, ingested_at,
        case
            when not is_object then 'malformed'
            when refund_id is null or purchase_id is null then 'missing_field'
            when refunded_at is null then 'bad_timestamp'
        end as quarantine_reason
    from {{ ref('stg_landing__refunds') }}
)

select * from auto_topups
union all
select * from voids
union all
select * from refunds
