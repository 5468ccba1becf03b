with

guarded as (
    {{ guarded_payload(source('landing', 'grant_amendments')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('amendment_id') }}), '') as amendment_id,
        nullif(trim({{ payload_field('grant_id') }}), '') as grant_id,
        lower(nullif(trim({{ payload_field('action') }}), '')) as action,
        nullif(trim({{ payload_field('effective_at') }}), '') as effective_at_text,
        {{ parse_utc_timestamp(payload_field('effective_at')) }} as effective_at,
        nullif(trim({{ payload_field('new_expires_at') }}), '') as new_expires_at_text,
        {{ parse_utc_timestamp("nullif(trim(" ~ payload_field('new_expires_at') ~ "), '')") }} as new_expires_at,
        {{ payload_field('reason') }} as reason,
        {{ payload_field('created_by') }} as created_by
    from guarded
)

select * from renamed
