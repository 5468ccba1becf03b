with

guarded as (
    {{ guarded_payload(source('landing', 'auto_topups')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('customer_id') }}), '') as customer_id,
        try_cast({{ payload_field('threshold') }} as {{ credits_type() }}) as threshold_credits,
        nullif(trim({{ payload_field('bundle_id') }}), '') as bundle_id,
        try_cast({{ payload_field('max_per_period') }} as integer) as max_per_period,
        {{ parse_utc_timestamp(payload_field('enabled_from')) }} as enabled_from,
        {{ parse_utc_timestamp("nullif(trim(" ~ payload_field('enabled_to') ~ "), '')") }} as enabled_to
    from guarded
)

select * from renamed
