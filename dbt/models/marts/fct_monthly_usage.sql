-- Usage per customer, period, aggregator and dimension values (contract §6.1).
-- Resumes after the last close (docs/incremental.md): only the open periods are summed.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_resume_window(period_start_of('period')) }}"
) }}
select
    customer_id,
    period,
    aggregator_id,
    dimensions,
    count(*) as events,
    cast(sum(units) as {{ units_type() }}) as units,
    cast(sum(credits) as {{ credits_type() }}) as credits
from {{ ref('int_events_rated') }}
where {{ in_resume_window('booked_at') }}
group by customer_id, period, aggregator_id, dimensions
