-- Refunds checked against the purchases they name (contract §4 "Voids and refunds"): a
-- succeeded or refunded purchase, refunded once, not before it was bought.
with

refunds as (
    select * from {{ ref('stg_landing__refunds') }}
),

purchases as (
    select purchase_id, customer_id, purchased_at
    from {{ ref('int_purchases_validated') }}
    where is_current and status in ('succeeded', 'refunded')
),

checked as (
    select
        refunds.*,
        purchases.customer_id,
        'purchase:' || refunds.purchase_id as grant_id,
        case
            when refunds.is_unreadable_file then 'unreadable_file'
            when not refunds.is_object then 'malformed'
            when refunds.refund_id is null or refunds.purchase_id is null then 'missing_field'
            when refunds.refunded_at is null then 'bad_timestamp'
            when purchases.purchase_id is null then 'unknown_purchase'
            when refunds.refunded_at < purchases.purchased_at then 'invalid_value'
        end as check_reason
    from refunds
    left join purchases on refunds.purchase_id = purchases.purchase_id
),

ranked as (
    select
        *,
        case
            when check_reason is not null then check_reason
            when row_number() over (
                partition by purchase_id, check_reason is null
                order by batch_seq, source_file, line_number
            ) > 1 then 'duplicate'
        end as quarantine_reason
    from checked
)

select {{ star_except('ranked', ['check_reason']) }} from ranked
