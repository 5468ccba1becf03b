with

guarded as (
    {{ guarded_payload(source('landing', 'subscriptions')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('customer_id') }}), '') as customer_id,
        nullif(trim({{ payload_field('plan_id') }}), '') as plan_id,
        nullif(trim({{ payload_field('started_at') }}), '') as started_at_text,
        {{ parse_utc_timestamp(payload_field('started_at')) }} as started_at,
        nullif(trim({{ payload_field('ended_at') }}), '') as ended_at_text,
        {{ parse_utc_timestamp("nullif(trim(" ~ payload_field('ended_at') ~ "), '')") }} as ended_at
    from guarded
)

select * from renamed
