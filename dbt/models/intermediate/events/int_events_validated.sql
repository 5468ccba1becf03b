-- Every landed event row with its verdict (contract §2.1): a quarantine reason, or accepted.
-- Checks apply in a fixed order and the first failing one names the reason. Dedup runs over
-- the rows that pass every other check, in "seen" order: load batch, then path, then line.
--
-- Incremental (docs/incremental.md): a run judges the rows of new load batches, plus the
-- few earlier rows whose verdict can change without new rows of their own: those from the
-- future (the clock moves) and those whose customer reference now resolves otherwise (the
-- customers feed changed). Dedup is exact forever: every row sharing a dedup key with a
-- judged row is ranked again with it, found through this table's dedup_key column, never by
-- re-reading old payloads. `verdict_seq` numbers the run that last judged a row, so the
-- models downstream take exactly the rows judged since they last ran.
{{ config(materialized=delete_insert_materialization(), incremental_strategy='delete+insert', unique_key='event_row_id') }}
{#- What a verdict keeps: the row's identity and what rating needs, not its parsed text or
    properties (stg_landing__events has them by event_row_id). Writing those again here cost
    8 of this model's 27 s at 10M events. #}
{%- set verdict_columns = [
    'event_row_id', 'load_batch_id', 'batch_seq', 'source_file', 'line_number', 'ingested_at',
    'event_id', 'customer_ref', 'customer_id', 'event_type', 'event_at', 'dedup_key',
] %}
with

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

{% if is_incremental() -%}
changed_refs as (
    -- References whose resolution differs from the one this table recorded.
    select earlier.customer_ref
    from (select distinct customer_ref, customer_id from {{ this }}) as earlier
    left join customers as by_id on earlier.customer_ref = by_id.customer_id
    left join external_ids on earlier.customer_ref = external_ids.external_id
    where coalesce(by_id.customer_id, external_ids.customer_id) is distinct from earlier.customer_id
),

revisited as (
    select event_row_id
    from {{ this }}
    where
        quarantine_reason = 'future_timestamp'
        or customer_ref in (select customer_ref from changed_refs)
),
{%- endif %}

{% if is_incremental() -%}
last_judged as (
    select coalesce(max(batch_seq), 0) as batch_seq from {{ this }}
),
{%- endif %}

events as (
    select * from {{ ref('stg_landing__events') }}
    {% if is_incremental() -%}
        -- Two selects, not one `or`: each then skips what it does not need of the 10M-row
        -- staged table (its new batches are its last rows), where the `or` read every row
        -- and every column (2.4 s of a day's run at 10M events).
        where batch_seq > (select batch_seq from last_judged)
        union all
        select * from {{ ref('stg_landing__events') }}
        where
            batch_seq <= (select batch_seq from last_judged)
            and event_row_id in (select event_row_id from revisited)
    {%- endif %}
),

quantity_refusals as (
    -- Per match, which quantity check refuses it (null or false where none does).
    select
        event_row_id,
        operation = 'sum' and quantity_text is null as is_missing,
        operation = 'sum' and quantity_text is not null
        and try_cast(quantity_text as {{ units_type() }}) is null as is_non_numeric,
        try_cast(quantity_text as {{ units_type() }}) < 0 as is_negative,
        try_cast(quantity_text as {{ units_type() }}) >= {{ max_event_units() }} as is_out_of_range
    from {{ ref('int_events_matched_to_aggregators') }}
    {% if is_incremental() -%}
        where event_row_id in (select event_row_id from events)
    {%- endif %}
),

quantities as (
    -- Only the few refused matches are grouped, so neither the grouping nor the join below
    -- holds the 10M matches (5.7 s of this model's CPU).
    select
        event_row_id,
        bool_or(is_missing) as has_missing_quantity,
        bool_or(is_non_numeric) as has_non_numeric_quantity,
        bool_or(is_negative) as has_negative_quantity,
        bool_or(is_out_of_range) as has_out_of_range_quantity
    from quantity_refusals
    where is_missing or is_non_numeric or is_negative or is_out_of_range
    group by event_row_id
),

resolved as (
    select
        events.*,
        coalesce(by_id.customer_id, external_ids.customer_id) as customer_id,
        coalesce(quantities.has_missing_quantity, false) as has_missing_quantity,
        coalesce(quantities.has_non_numeric_quantity, false) as has_non_numeric_quantity,
        coalesce(quantities.has_negative_quantity, false) as has_negative_quantity,
        coalesce(quantities.has_out_of_range_quantity, false) as has_out_of_range_quantity
    from events
    left join customers as by_id on events.customer_ref = by_id.customer_id
    left join external_ids on events.customer_ref = external_ids.external_id
    left join quantities on events.event_row_id = quantities.event_row_id
),

checked as (
    select
        *,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object or properties_type not in ('OBJECT', 'NULL') then 'malformed'
            when
                nullif(trim(customer_ref), '') is null
                or nullif(trim(event_type), '') is null
                -- The staged text is kept where the timestamp did not parse (and a blank
                -- one never parses).
                or (event_at is null and nullif(trim(event_timestamp_text), '') is null)
                then 'missing_field'
            when event_at is null then 'bad_timestamp'
            -- Judged against this run's clock, so an event from the future waits in raw and
            -- is accepted by the first run whose clock reaches it (a backfill replays so).
            when event_at > {{ as_of_at() }} + {{ hours_interval(var('future_tolerance_hours')) }}
                then 'future_timestamp'
            when customer_id is null then 'unknown_customer'
            when has_missing_quantity then 'missing_field'
            when has_non_numeric_quantity then 'non_numeric_quantity'
            when has_negative_quantity then 'negative_quantity'
            when has_out_of_range_quantity then 'quantity_out_of_range'
        end as check_reason,
        -- A case, not coalesce: coalesce computes every argument for every row, and the
        -- content hash costs 4 s per 10M rows that nearly all carry an id.
        case
            when idempotency_key is not null then idempotency_key
            when event_id is not null then event_id
            else md5(concat_ws('|', customer_ref, event_type, event_timestamp_text, {{ canonical_properties('properties') }}))
        end as dedup_key
    from resolved
),

{% if is_incremental() -%}
judged_keys as (
    -- A row's dedup key depends on its own content only, so a judged row's key is the same
    -- as when it was last judged: every row sharing it must be ranked again.
    select distinct dedup_key from checked
),
{%- endif %}

participants as (
    -- Rows in dedup: those judged now that pass every other check, and the earlier rows of
    -- the same keys that passed them (their checks cannot have changed).
    select event_row_id, customer_id, event_type, event_at, properties, dedup_key, batch_seq, source_file, line_number
    from checked
    where check_reason is null
    {% if is_incremental() -%}
        union all
        select
            earlier.event_row_id, earlier.customer_id, earlier.event_type, earlier.event_at, staged.properties,
            earlier.dedup_key, earlier.batch_seq, earlier.source_file, earlier.line_number
        from {{ this }} as earlier
        inner join {{ ref('stg_landing__events') }} as staged on earlier.event_row_id = staged.event_row_id
        where
            earlier.dedup_key in (select dedup_key from judged_keys)
            and earlier.event_row_id not in (select event_row_id from events)
            and (earlier.quarantine_reason is null or earlier.quarantine_reason in ('duplicate', 'conflicting_duplicate'))
    {%- endif %}
),

key_counts as (
    -- Most keys are seen once; only the repeated ones need ordering, which keeps the sort small.
    select dedup_key
    from participants
    group by dedup_key
    having count(*) > 1
),

repeated as (
    select
        participants.event_row_id,
        md5(concat_ws(
            '|', participants.customer_id, participants.event_type, {{ format_timestamp('participants.event_at', '%Y-%m-%dT%H:%M:%S.%f') }},
            {{ canonical_properties('participants.properties') }}
        )) as body_hash,
        participants.dedup_key,
        participants.batch_seq,
        participants.source_file,
        participants.line_number
    from participants
    inner join key_counts on participants.dedup_key = key_counts.dedup_key
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

run as (
    select
        {% if is_incremental() -%}
            (select coalesce(max(verdict_seq), 0) + 1 from {{ this }})
        {%- else -%}
            1
        {%- endif %} as verdict_seq
),

verdicts as (
    select
        {% for column in verdict_columns %}checked.{{ column }},{% endfor %}
        coalesce(checked.check_reason, ranked.dedup_reason) as quarantine_reason,
        run.verdict_seq
    from checked
    cross join run
    left join ranked on checked.event_row_id = ranked.event_row_id
    {% if is_incremental() -%}
        union all
        -- Earlier rows of a judged key, with the rank they hold now.
        select
            {% for column in verdict_columns %}earlier.{{ column }},{% endfor %}
            ranked.dedup_reason as quarantine_reason,
            run.verdict_seq
        from {{ this }} as earlier
        cross join run
        inner join participants on earlier.event_row_id = participants.event_row_id
        left join ranked on earlier.event_row_id = ranked.event_row_id
        where earlier.event_row_id not in (select event_row_id from events)
    {%- endif %}
)

select * from verdicts
