-- Purchase rows checked against the customers and the catalog's bundles (contract §2.2). A
-- purchase is billed in its customer's billing currency (its own, else the catalog's): any
-- other is quarantined as invalid_currency, so an invoice never mixes currencies.
-- A later row for the same purchase_id replaces an earlier one.
with

purchases as (
    select * from {{ ref('stg_landing__purchases') }}
),

customers as (
    select customer_id, billing_currency from {{ ref('int_customers_validated') }} where is_current
),

bundles as (
    select bundle_id from {{ ref('stg_catalog__bundles') }}
),

currencies as (
    select currency from {{ ref('stg_catalog__iso_currencies') }}
),

checked as (
    select
        purchases.*,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object then 'malformed'
            when
                purchase_id is null or customer_id is null or bundle_id is null
                or purchased_at_text is null or amount_paid_text is null or currency is null
                or status is null
                then 'missing_field'
            when purchased_at is null then 'bad_timestamp'
            when currency not in (select currency from currencies) then 'invalid_currency'
            when amount_paid is null or amount_paid < 0 or quantity is null or quantity < 1
                then 'invalid_value'
            when status not in ('succeeded', 'failed', 'refunded') then 'invalid_value'
            when customer_id not in (select customer_id from customers) then 'unknown_customer'
            when bundle_id not in (select bundle_id from bundles) then 'unknown_bundle'
            when currency <> (
                select customers.billing_currency from customers
                where customers.customer_id = purchases.customer_id
            ) then 'invalid_currency'
        end as quarantine_reason
    from purchases
),

versioned as (
    select
        *,
        quarantine_reason is null and row_number() over (
            partition by purchase_id, quarantine_reason is null
            order by batch_seq desc, source_file desc, line_number desc
        ) = 1 as is_current
    from checked
)

select * from versioned
