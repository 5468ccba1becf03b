with

guarded as (
    {{ guarded_payload(source('landing', 'grants')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'grant_id'), '') as grant_id,
        nullif(trim(payload ->> 'customer_id'), '') as customer_id,
        lower(nullif(trim(payload ->> 'kind'), '')) as kind,
        nullif(trim(payload ->> 'credits'), '') as credits_text,
        try_cast(payload ->> 'credits' as {{ credits_type() }}) as credits,
        nullif(trim(payload ->> 'effective_at'), '') as effective_at_text,
        {{ parse_utc_timestamp("payload ->> 'effective_at'") }} as effective_at,
        nullif(trim(payload ->> 'expires_at'), '') as expires_at_text,
        {{ parse_utc_timestamp("nullif(trim(payload ->> 'expires_at'), '')") }} as expires_at,
        try_cast(nullif(trim(payload ->> 'priority'), '') as integer) as priority,
        try_cast(
            coalesce(nullif(trim(payload ->> 'cost_basis_per_credit'), ''), '0') as decimal(38, 12)
        ) as cost_basis_per_credit,
        nullif(trim(payload ->> 'applies_to'), '') as applies_to_text,
        payload ->> 'reason' as reason,
        payload ->> 'created_by' as created_by
    from guarded
)

select * from renamed
