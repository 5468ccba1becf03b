-- Auto top-up settings checked against the customers and the catalog's bundles (contract §2.2).
-- An identical setting loaded again is one setting; the latest load of it is kept.
with

settings as (
    select * from {{ ref('stg_landing__auto_topups') }}
),

customers as (
    select customer_id from {{ ref('int_customers_validated') }} where is_current
),

bundles as (
    select bundle_id from {{ ref('stg_catalog__bundles') }}
),

checked as (
    select
        settings.*,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object then 'malformed'
            when customer_id is null or bundle_id is null or threshold_credits is null then 'missing_field'
            when enabled_from is null then 'bad_timestamp'
            when enabled_to is not null and enabled_to <= enabled_from then 'invalid_value'
            when max_per_period is not null and max_per_period < 0 then 'invalid_value'
            when customer_id not in (select customer_id from customers) then 'unknown_customer'
            when bundle_id not in (select bundle_id from bundles) then 'unknown_bundle'
        end as quarantine_reason
    from settings
),

versioned as (
    select
        *,
        quarantine_reason is null and row_number() over (
            partition by customer_id, enabled_from, quarantine_reason is null
            order by batch_seq desc, source_file desc, line_number desc
        ) = 1 as is_current
    from checked
)

select * from versioned
