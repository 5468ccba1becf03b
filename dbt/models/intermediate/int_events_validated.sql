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
    from (
        select
            *,
            -- Properties in key order, so the same content hashes the same however it landed.
            array_to_string(
                list_transform(list_sort(json_keys(properties)), lambda k: to_json(k) || ':' || json_extract(properties, k)),
                ','
            ) as canonical_properties
        from events
    ) as events
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
            md5(concat_ws('|', customer_ref, event_type, event_timestamp_text, canonical_properties))
        ) as dedup_key,
        md5(concat_ws('|', customer_id, event_type, strftime(event_at, '%Y-%m-%dT%H:%M:%S.%f'), canonical_properties))
            as body_hash
    from resolved
),

ranked as (
    select
        *,
        row_number() over seen as seen_rank,
        first_value(body_hash) over seen as first_body_hash
    from checked
    where check_reason is null
    window seen as (partition by dedup_key order by batch_seq, source_file, line_number)
),

verdicts as (
    select
        checked.*,
        coalesce(
            checked.check_reason,
            case
                when ranked.seen_rank = 1 then null
                when ranked.body_hash = ranked.first_body_hash then 'duplicate'
                else 'conflicting_duplicate'
            end
        ) as quarantine_reason
    from checked
    left join ranked on checked.event_row_id = ranked.event_row_id
)

select * exclude (check_reason) from verdicts
