-- Per closed period and customer: usage as the close froze it, beside usage as the data now
-- says when every event is counted in the period it happened in (docs/ledger.md
-- "Restatements"). A late event is booked in the first period open when it arrived
-- (contract §4), so a closed period's frozen usage lacks the late events that happened in
-- it and holds those of earlier periods that arrived while it was open.
-- A view: the close freezes its figures after the build that closes it (finance/frozen_figures),
-- so a table built in that run would miss them; a view reads them as they are.
{{ config(materialized='view') }}
with

closes as (
    select max(period) as closed_through from {{ ref('stg_control__period_closes') }}
),

frozen_figures as (
    select * from {{ ref('stg_control__frozen_figures') }}
    where period <= (select closed_through from closes)
),

-- The figures are 'ledger:<entry_type>' (int_period_figures): usage as debited is the
-- usage entries however funded, with the sign of what the customer consumed.
frozen as (
    select
        period,
        customer_id,
        -sum(
            case
                when split_part(figure, ':', 1) = 'ledger' and split_part(figure, ':', 2) in {{ usage_entry_types() }}
                    then value
                else 0
            end
        ) as usage_credits
    from frozen_figures
    group by period, customer_id
),

frozen_periods as (
    select period, min(frozen_at) as frozen_at
    from frozen_figures
    group by period
),

-- `period` is the period an event is booked in; it happened in the period of its event_at.
rated as (
    select
        customer_id,
        period as booked_period,
        {{ period_of('event_at') }} as occurred_period,
        is_late,
        credits
    from {{ ref('int_events_rated') }}
),

booked as (
    select
        customer_id,
        booked_period as period,
        count(*) as events,
        count(*) filter (where is_late) as late_events_from_earlier,
        sum(case when is_late then credits else 0 end) as late_credits_from_earlier
    from rated
    where booked_period <= (select closed_through from closes)
    group by customer_id, booked_period
),

occurred as (
    select
        customer_id,
        occurred_period as period,
        count(*) as events,
        sum(credits) as credits,
        count(*) filter (where is_late) as late_events_booked_later,
        sum(case when is_late then credits else 0 end) as late_credits_booked_later
    from rated
    where occurred_period <= (select closed_through from closes)
    group by customer_id, occurred_period
),

-- Every customer with usage in a closed period, at its close or now.
restated as (
    select period, customer_id from frozen where usage_credits <> 0
    union
    select period, customer_id from booked
    union
    select period, customer_id from occurred
),

figures as (
    select
        restated.period,
        restated.customer_id,
        frozen_periods.frozen_at,
        coalesce(booked.events, 0) as events_at_close,
        coalesce(occurred.events, 0) as events_now,
        coalesce(frozen.usage_credits, 0) as usage_credits_at_close,
        coalesce(occurred.credits, 0) as usage_credits_now,
        coalesce(occurred.late_events_booked_later, 0) as late_events_booked_later,
        coalesce(occurred.late_credits_booked_later, 0) as late_credits_booked_later,
        coalesce(booked.late_events_from_earlier, 0) as late_events_from_earlier,
        coalesce(booked.late_credits_from_earlier, 0) as late_credits_from_earlier
    from restated
    left join frozen on restated.period = frozen.period and restated.customer_id = frozen.customer_id
    left join booked on restated.period = booked.period and restated.customer_id = booked.customer_id
    left join occurred on restated.period = occurred.period and restated.customer_id = occurred.customer_id
    left join frozen_periods on restated.period = frozen_periods.period
)

select
    period,
    customer_id,
    frozen_at,
    cast(events_at_close as bigint) as events_at_close,
    cast(events_now as bigint) as events_now,
    cast(events_now - events_at_close as bigint) as events_delta,
    cast(usage_credits_at_close as {{ credits_type() }}) as usage_credits_at_close,
    cast(usage_credits_now as {{ credits_type() }}) as usage_credits_now,
    cast(usage_credits_now - usage_credits_at_close as {{ credits_type() }}) as usage_credits_delta,
    cast(late_events_booked_later as bigint) as late_events_booked_later,
    cast(late_credits_booked_later as {{ credits_type() }}) as late_credits_booked_later,
    cast(late_events_from_earlier as bigint) as late_events_from_earlier,
    cast(late_credits_from_earlier as {{ credits_type() }}) as late_credits_from_earlier
from figures
