-- Grant amendments checked (contract §8.3, docs/ledger.md "Grant amendments"): the fields an
-- action needs, a known action, a grant of the inputs, a new expiry after that grant's
-- effective_at, a date in a period still open when the row was loaded, and each
-- amendment_id once (the first seen stands).
with

amendments as (
    select * from {{ ref('stg_landing__grant_amendments') }}
),

amendable as (
    -- The positive grants the inputs define: succeeded or refunded purchases and rows of the
    -- grants feed whatever their date, plan allowances once granted (by the clock). Top-ups
    -- and rollovers, which the walk makes, and negative adjustments are not amendable.
    select 'purchase:' || purchase_id as grant_id, customer_id, purchased_at as effective_at
    from {{ ref('int_purchases_validated') }}
    where is_current and status in ('succeeded', 'refunded')
    union all
    select grant_id, customer_id, effective_at
    from {{ ref('int_grants_feed_validated') }}
    where is_current and credits > 0
    union all
    select grant_id, customer_id, effective_at
    from {{ ref('int_grants_unioned') }}
    where kind = 'plan_allowance'
),

lateness as (
    {{ closed_through_at_ingest('amendments') }}
),

checked as (
    select
        amendments.*,
        amendable.customer_id,
        amendable.effective_at as grant_effective_at,
        case
            when amendments.is_unreadable_file then 'unreadable_file'
            when not amendments.is_object then 'malformed'
            when
                amendments.amendment_id is null or amendments.grant_id is null or amendments.action is null
                or amendments.effective_at_text is null
                or (amendments.action = 'set_expiry' and amendments.new_expires_at_text is null)
                then 'missing_field'
            when
                amendments.effective_at is null
                or (amendments.new_expires_at_text is not null and amendments.new_expires_at is null)
                then 'bad_timestamp'
            when amendments.action not in ('void', 'set_expiry') then 'invalid_value'
            when amendable.grant_id is null then 'unknown_grant'
            when amendments.action = 'set_expiry' and amendments.new_expires_at <= amendable.effective_at
                then 'invalid_value'
            when {{ period_of('amendments.effective_at') }} <= lateness.closed_through_at_ingest
                then 'closed_period'
        end as check_reason
    from amendments
    left join amendable on amendments.grant_id = amendable.grant_id
    left join lateness on amendments.load_batch_id = lateness.load_batch_id
),

ranked as (
    select
        *,
        case
            when check_reason is not null then check_reason
            when row_number() over (
                partition by amendment_id, check_reason is null
                order by batch_seq, source_file, line_number
            ) > 1 then 'duplicate'
        end as quarantine_reason
    from checked
)

select {{ star_except('ranked', ['check_reason']) }} from ranked
