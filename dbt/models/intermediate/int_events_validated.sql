-- Every landed event row with its verdict (SPEC §2.1): a quarantine reason, or accepted.
-- Checks apply in a fixed order and the first failing one names the reason. Dedup runs over
-- the rows that pass every other check, in "seen" order: load batch, then path, then line.
with

events as (
    select * from {{ ref('stg_landing__events') }}
),

customers as (
    select customer_id, external_id from {{ ref('int_customers_validated') }} where is_current
),

external_ids as (
    -- An external_id names a customer only when it is unambiguous.
    select
        external_id,
        min(customer_id) as customer_id
    from customers
    where external_id is not null
    group by external_id
    having count(*) = 1
),

quantities as (
    select
        event_row_id,
        bool_or(operation = 'sum' and quantity_text is null) as has_missing_quantity,
        bool_or(
            operation = 'sum' and quantity_text is not null
            and try_cast(quantity_text as {{ units_type() }}) is null
        ) as has_non_numeric_quantity,
        bool_or(try_cast(quantity_text as {{ units_type() }}) < 0) as has_negative_quantity,
        count(*) as aggregators_matched
    from {{ ref('int_events_matched_to_aggregators') }}
    group by event_row_id
),

resolved as (
    select
        events.*,
        coalesce(by_id.customer_id, external_ids.customer_id) as customer_id,
        coalesce(quantities.aggregators_matched, 0) as aggregators_matched,
        coalesce(quantities.has_missing_quantity, false) as has_missing_quantity,
        coalesce(quantities.has_non_numeric_quantity, false) as has_non_numeric_quantity,
        coalesce(quantities.has_negative_quantity, false) as has_negative_quantity
    from events
    left join customers as by_id on events.customer_ref = by_id.customer_id
    left join external_ids on events.customer_ref = external_ids.external_id
    left join quantities on events.event_row_id = quantities.event_row_id
),

checked as (
    select
        *,
        case
            when not is_object or properties_type not in ('OBJECT', 'NULL') then 'malformed'
            when
                nullif(trim(customer_ref), '') is null
                or nullif(trim(event_type), '') is null
                or nullif(trim(event_timestamp_text), '') is null
                then 'missing_field'
            when event_at is null then 'bad_timestamp'
            -- Judged against this run's clock, so an event from the future waits in raw and
            -- is accepted by the first run whose clock reaches it (a backfill replays so).
            when event_at > cast('{{ var("as_of") }}' as timestamp) + to_hours({{ var('future_tolerance_hours') }})
                then 'future_timestamp'
            when customer_id is null then 'unknown_customer'
            when has_missing_quantity then 'missing_field'
            when has_non_numeric_quantity then 'non_numeric_quantity'
            when has_negative_quantity then 'negative_quantity'
        end as check_reason,
        coalesce(
            idempotency_key,
            event_id,
            md5(concat_ws('|', customer_ref, event_type, event_timestamp_text, {{ canonical_properties('properties') }}))
        ) as dedup_key
    from resolved
),

key_counts as (
    -- Dedup runs over the rows that pass every other check. Most keys are seen once; only
    -- the repeated ones need ordering, which keeps the sort small.
    select dedup_key
    from checked
    where check_reason is null
    group by dedup_key
    having count(*) > 1
),

repeated as (
    select
        checked.event_row_id,
        md5(concat_ws(
            '|', checked.customer_id, checked.event_type, strftime(checked.event_at, '%Y-%m-%dT%H:%M:%S.%f'),
            {{ canonical_properties('checked.properties') }}
        )) as body_hash,
        checked.dedup_key,
        checked.batch_seq,
        checked.source_file,
        checked.line_number
    from checked
    inner join key_counts on checked.dedup_key = key_counts.dedup_key
    where checked.check_reason is null
),

ranked as (
    select
        event_row_id,
        case
            when row_number() over seen = 1 then null
            when body_hash = first_value(body_hash) over seen then 'duplicate'
            else 'conflicting_duplicate'
        end as dedup_reason
    from repeated
    window seen as (partition by dedup_key order by batch_seq, source_file, line_number)
),

verdicts as (
    select
        checked.* exclude (check_reason),
        coalesce(checked.check_reason, ranked.dedup_reason) as quarantine_reason
    from checked
    left join ranked on checked.event_row_id = ranked.event_row_id
)

select * from verdicts
