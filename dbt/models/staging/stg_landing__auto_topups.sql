with

guarded as (
    {{ guarded_payload(source('landing', 'auto_topups')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'customer_id'), '') as customer_id,
        try_cast(payload ->> 'threshold' as {{ credits_type() }}) as threshold_credits,
        nullif(trim(payload ->> 'bundle_id'), '') as bundle_id,
        try_cast(payload ->> 'max_per_period' as integer) as max_per_period,
        {{ parse_utc_timestamp("payload ->> 'enabled_from'") }} as enabled_from,
        {{ parse_utc_timestamp("nullif(trim(payload ->> 'enabled_to'), '')") }} as enabled_to
    from guarded
)

select * from renamed
