-- Customers feed rows checked against contract §2.2, with the current version of each customer.
-- A later row for the same customer_id replaces an earlier one (load order, then path, line).
-- The optional `low_balance_threshold` (credits, >= 0; blank = the plan's warning_limit) is
-- checked like tax_rate: a value that is not a number, or is negative, quarantines the row.
with

customers as (
    select * from {{ ref('stg_landing__customers') }}
),

currencies as (
    select currency from {{ ref('stg_catalog__iso_currencies') }}
),

settings as (
    select value as default_currency from {{ ref('stg_catalog__settings') }} where setting = 'default_currency'
),

checked as (
    select
        customers.*,
        -- The currency the customer is billed in, defined here once: its own, else the
        -- catalog's. Purchases, grants, top-ups, invoices and dim_customers all read it.
        coalesce(customers.currency, settings.default_currency) as billing_currency,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object then 'malformed'
            when customer_id is null then 'missing_field'
            when currency is not null and currency not in (select currency from currencies)
                then 'invalid_currency'
            when tax_rate_text is not null and (tax_rate is null or tax_rate < 0 or tax_rate >= 1)
                then 'invalid_value'
            when
                low_balance_threshold_text is not null
                and (low_balance_threshold is null or low_balance_threshold < 0)
                then 'invalid_value'
        end as quarantine_reason
    from customers
    cross join settings
),

versioned as (
    select
        *,
        quarantine_reason is null and row_number() over (
            partition by customer_id, quarantine_reason is null
            order by batch_seq desc, source_file desc, line_number desc
        ) = 1 as is_current
    from checked
)

select * from versioned
