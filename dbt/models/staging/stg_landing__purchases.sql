with

guarded as (
    {{ guarded_payload(source('landing', 'purchases')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('purchase_id') }}), '') as purchase_id,
        nullif(trim({{ payload_field('customer_id') }}), '') as customer_id,
        nullif(trim({{ payload_field('bundle_id') }}), '') as bundle_id,
        try_cast(coalesce(nullif(trim({{ payload_field('quantity') }}), ''), '1') as integer) as quantity,
        nullif(trim({{ payload_field('purchased_at') }}), '') as purchased_at_text,
        {{ parse_utc_timestamp(payload_field('purchased_at')) }} as purchased_at,
        nullif(trim({{ payload_field('amount_paid') }}), '') as amount_paid_text,
        try_cast({{ payload_field('amount_paid') }} as bigint) as amount_paid,
        nullif(trim({{ payload_field('currency') }}), '') as currency,
        lower(nullif(trim({{ payload_field('status') }}), '')) as status
    from guarded
)

select * from renamed
