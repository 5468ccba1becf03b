with

guarded as (
    {{ guarded_payload(source('landing', 'grants')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('grant_id') }}), '') as grant_id,
        nullif(trim({{ payload_field('customer_id') }}), '') as customer_id,
        lower(nullif(trim({{ payload_field('kind') }}), '')) as kind,
        nullif(trim({{ payload_field('credits') }}), '') as credits_text,
        try_cast({{ payload_field('credits') }} as {{ credits_type() }}) as credits,
        nullif(trim({{ payload_field('effective_at') }}), '') as effective_at_text,
        {{ parse_utc_timestamp(payload_field('effective_at')) }} as effective_at,
        nullif(trim({{ payload_field('expires_at') }}), '') as expires_at_text,
        {{ parse_utc_timestamp("nullif(trim(" ~ payload_field('expires_at') ~ "), '')") }} as expires_at,
        try_cast(nullif(trim({{ payload_field('priority') }}), '') as integer) as priority,
        try_cast(
            coalesce(nullif(trim({{ payload_field('cost_basis_per_credit') }}), ''), '0') as decimal(38, 12)
        ) as cost_basis_per_credit,
        nullif(trim({{ payload_field('applies_to') }}), '') as applies_to_text,
        {{ payload_field('reason') }} as reason,
        {{ payload_field('created_by') }} as created_by
    from guarded
)

select * from renamed
