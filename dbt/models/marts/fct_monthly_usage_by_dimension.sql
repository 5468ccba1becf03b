-- Usage per customer, billed period, aggregator and each configured dimension on its own
-- (contract §6.1 "fct_monthly_usage ... dimensions"): one row per dimension value.
-- Resumes after the last close (docs/incremental.md): only the open periods are summed.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_resume_window(period_start_of('period')) }}"
) }}
with

rated as (
    select * from {{ ref('int_events_rated') }}
    where {{ in_resume_window('booked_at') }}
),

dimension_names as (
    select * from {{ ref('int_aggregator_dimensions') }}
)

select
    rated.customer_id,
    rated.period,
    rated.aggregator_id,
    dimension_names.dimension_name,
    {{ json_field_text('rated.dimensions', 'dimension_names.dimension_name') }} as dimension_value,
    count(*) as events,
    cast(sum(rated.units) as {{ units_type() }}) as units,
    cast(sum(rated.credits) as {{ credits_type() }}) as credits
from rated
inner join dimension_names on rated.aggregator_id = dimension_names.aggregator_id
group by all
