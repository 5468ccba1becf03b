-- Subscription rows checked against the customers and the catalog's plans (contract §2.2).
-- An identical row loaded again is one subscription; the latest load of it is kept.
with

subscriptions as (
    select * from {{ ref('stg_landing__subscriptions') }}
),

customers as (
    select customer_id from {{ ref('int_customers_validated') }} where is_current
),

plans as (
    select plan_id from {{ ref('stg_catalog__plans') }}
),

checked as (
    select
        subscriptions.*,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object then 'malformed'
            when customer_id is null or plan_id is null or started_at_text is null then 'missing_field'
            when started_at is null or (ended_at_text is not null and ended_at is null) then 'bad_timestamp'
            when ended_at is not null and ended_at <= started_at then 'invalid_value'
            when customer_id not in (select customer_id from customers) then 'unknown_customer'
            when plan_id not in (select plan_id from plans) then 'unknown_plan'
        end as quarantine_reason
    from subscriptions
),

versioned as (
    select
        *,
        quarantine_reason is null and row_number() over (
            partition by customer_id, plan_id, started_at, quarantine_reason is null
            order by batch_seq desc, source_file desc, line_number desc
        ) = 1 as is_current
    from checked
)

select * from versioned
