with

guarded as (
    {{ guarded_payload(source('landing', 'customers')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'customer_id'), '') as customer_id,
        nullif(trim(payload ->> 'external_id'), '') as external_id,
        payload ->> 'name' as customer_name,
        payload ->> 'email' as email,
        payload ->> 'address' as address,
        nullif(trim(payload ->> 'country'), '') as country,
        nullif(trim(payload ->> 'currency'), '') as currency,
        nullif(trim(payload ->> 'tax_rate'), '') as tax_rate_text,
        try_cast(payload ->> 'tax_rate' as decimal(9, 6)) as tax_rate,
        -- Optional: the customer's own low-balance alert threshold in credits (blank = the plan's).
        nullif(trim(payload ->> 'low_balance_threshold'), '') as low_balance_threshold_text,
        try_cast(trim(payload ->> 'low_balance_threshold') as {{ credits_type() }}) as low_balance_threshold,
        {{ parse_utc_timestamp("payload ->> 'created_at'") }} as created_at
    from guarded
)

select * from renamed
