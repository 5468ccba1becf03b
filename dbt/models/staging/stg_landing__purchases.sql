with

guarded as (
    {{ guarded_payload(source('landing', 'purchases')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'purchase_id'), '') as purchase_id,
        nullif(trim(payload ->> 'customer_id'), '') as customer_id,
        nullif(trim(payload ->> 'bundle_id'), '') as bundle_id,
        try_cast(coalesce(nullif(trim(payload ->> 'quantity'), ''), '1') as integer) as quantity,
        nullif(trim(payload ->> 'purchased_at'), '') as purchased_at_text,
        {{ parse_utc_timestamp("payload ->> 'purchased_at'") }} as purchased_at,
        nullif(trim(payload ->> 'amount_paid'), '') as amount_paid_text,
        try_cast(payload ->> 'amount_paid' as bigint) as amount_paid,
        nullif(trim(payload ->> 'currency'), '') as currency,
        lower(nullif(trim(payload ->> 'status'), '')) as status
    from guarded
)

select * from renamed
