with

guarded as (
    {{ guarded_payload(source('landing', 'customers')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('customer_id') }}), '') as customer_id,
        nullif(trim({{ payload_field('external_id') }}), '') as external_id,
        {{ payload_field('name') }} as customer_name,
        {{ payload_field('email') }} as email,
        {{ payload_field('address') }} as address,
        nullif(trim({{ payload_field('country') }}), '') as country,
        nullif(trim({{ payload_field('currency') }}), '') as currency,
        nullif(trim({{ payload_field('tax_rate') }}), '') as tax_rate_text,
        try_cast({{ payload_field('tax_rate') }} as decimal(9, 6)) as tax_rate,
        -- Optional: the customer's own low-balance alert threshold in credits (blank = the plan's).
        nullif(trim({{ payload_field('low_balance_threshold') }}), '') as low_balance_threshold_text,
        try_cast(trim({{ payload_field('low_balance_threshold') }}) as {{ credits_type() }}) as low_balance_threshold,
        {{ parse_utc_timestamp(payload_field('created_at')) }} as created_at
    from guarded
)

select * from renamed
