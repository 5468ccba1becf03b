-- Voids checked against the accepted events they name (docs/ledger.md "Void"): the event
-- must exist and not be voided already, and the void cannot precede it.
with

voids as (
    select * from {{ ref('stg_landing__voids') }}
),

events as (
    -- The accepted events the voids name (int_voided_events looks them up once).
    select event_id, min(customer_id) as customer_id, min(event_at) as event_at
    from {{ ref('int_voided_events') }}
    where customer_id is not null
    group by event_id
),

checked as (
    select
        voids.*,
        events.customer_id,
        events.event_at,
        case
            when voids.is_unreadable_file then 'unreadable_file'
            when not voids.is_object then 'malformed'
            when voids.event_id is null then 'missing_field'
            when voids.voided_at is null then 'bad_timestamp'
            when events.event_id is null then 'unknown_event'
            when voids.voided_at < events.event_at then 'invalid_value'
        end as check_reason
    from voids
    left join events on voids.event_id = events.event_id
),

ranked as (
    select
        *,
        case
            when check_reason is not null then check_reason
            when row_number() over (
                partition by event_id, check_reason is null
                order by batch_seq, source_file, line_number
            ) > 1 then 'duplicate'
        end as quarantine_reason
    from checked
)

select {{ star_except('ranked', ['check_reason']) }} from ranked
