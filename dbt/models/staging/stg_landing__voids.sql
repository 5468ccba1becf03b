with

guarded as (
    {{ guarded_payload(source('landing', 'voids')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('event_id') }}), '') as event_id,
        {{ parse_utc_timestamp(payload_field('voided_at')) }} as voided_at,
        {{ payload_field('reason') }} as reason
    from guarded
)

select * from renamed
