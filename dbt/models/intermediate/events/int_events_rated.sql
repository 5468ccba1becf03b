-- Accepted events rated per matching aggregator (contract §4): units from the aggregator's
-- operation, credits = units × (weight / per) with the weight in effect at the event's
-- timestamp. The rate is exact at 6 digits (validated in the catalog), so credits are an
-- exact product and nothing is divided here.
--
-- Incremental (docs/incremental.md): a run rates the rows judged since this table last
-- took any (`verdict_seq`); a row judged again replaces its earlier rating, and the post-hook
-- drops the ratings of rows judged quarantined since. A rating depends only on its row, its
-- load batch and the catalog, and a catalog change rebuilds everything.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='delete+insert',
    unique_key='event_row_id',
    post_hook="{% if delete_insert_materialization() == 'incremental' %}delete from {{ this }} where event_row_id in (select event_row_id from {{ ref('int_events_validated') }} where quarantine_reason is not null){% endif %}"
) }}
with

judged as (
    select * from {{ ref('int_events_validated') }}
    {% if is_incremental() -%}
        where verdict_seq > (select coalesce(max(verdict_seq), 0) from {{ this }})
    {%- endif %}
),

accepted as (
    select * from judged
    where quarantine_reason is null
),

lateness as (
    -- Per load batch, the last period already closed when it was ingested (contract §4 "Late
    -- events": closed is judged at ingested_at).
    {{ closed_through_at_ingest('accepted') }}
),

matched as (
    select * from {{ ref('int_events_matched_to_aggregators') }}
    {% if is_incremental() -%}
        where event_row_id in (select event_row_id from accepted)
    {%- endif %}
),

rates as (
    select * from {{ ref('stg_catalog__rates') }}
),

rated as (
    select
        accepted.event_row_id,
        coalesce(accepted.event_id, accepted.dedup_key) as event_id,
        accepted.dedup_key,
        accepted.customer_id,
        accepted.event_type,
        accepted.event_at,
        accepted.ingested_at,
        coalesce({{ period_of('accepted.event_at') }} <= lateness.closed_through_at_ingest, false) as is_late,
        -- A late event is rated at its own timestamp but booked at the first instant of the
        -- first period still open when it arrived.
        case
            when {{ period_of('accepted.event_at') }} <= lateness.closed_through_at_ingest
                then {{ period_start_of('lateness.closed_through_at_ingest') }} + interval 1 month
            else accepted.event_at
        end as booked_at,
        accepted.verdict_seq,
        matched.aggregator_id,
        matched.dimensions,
        rates.credit_product_id,
        case
            when matched.operation = 'count' then cast(1 as {{ units_type() }})
            else cast(matched.quantity_text as {{ units_type() }})
        end as units,
        cast(rates.credits_per_unit as {{ rate_type() }}) as credits_per_unit
    from accepted
    left join lateness on accepted.load_batch_id = lateness.load_batch_id
    inner join matched on accepted.event_row_id = matched.event_row_id
    inner join rates
        on
            matched.aggregator_id = rates.aggregator_id
            and (rates.effective_from is null or accepted.event_at >= rates.effective_from)
            and (rates.effective_to is null or accepted.event_at < rates.effective_to)
),

final as (
    select
        {{ star_except('rated', ['dimensions']) }},
        cast(rated.units * rated.credits_per_unit as {{ credits_type() }}) as credits,
        -- The period it is billed in: its own, or the first open one for a late event.
        {{ period_of('rated.booked_at') }} as period,
        -- The event's values of its aggregator's dimensions (int_events_matched_to_aggregators).
        rated.dimensions
    from rated
)

select * from final
