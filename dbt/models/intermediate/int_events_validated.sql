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
            when event_at > ingested_at + to_hours({{ var('future_tolerance_hours') }})
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

counted as (
    -- Dedup runs over the rows that pass every other check.
    select
        *,
        count(*) over (partition by dedup_key, check_reason is null) as key_rows
    from checked
),

bodies as (
    -- What a duplicate is compared on, computed only where a key repeats.
    select
        *,
        case
            when check_reason is null and key_rows > 1
                then md5(concat_ws(
                    '|', customer_id, event_type, strftime(event_at, '%Y-%m-%dT%H:%M:%S.%f'),
                    {{ canonical_properties('properties') }}
                ))
        end as body_hash
    from counted
),

verdicts as (
    select
        * exclude (key_rows, body_hash),
        coalesce(
            check_reason,
            case
                when row_number() over seen = 1 then null
                when body_hash = first_value(body_hash) over seen then 'duplicate'
                else 'conflicting_duplicate'
            end
        ) as quarantine_reason
    from bodies
    window seen as (partition by dedup_key, check_reason is null order by batch_seq, source_file, line_number)
)

select * exclude (check_reason) from verdicts
