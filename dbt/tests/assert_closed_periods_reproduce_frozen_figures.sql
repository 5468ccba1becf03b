-- Closed periods never change (contract §4): with no late data, recomputing a closed period
-- reproduces every figure frozen when it closed, and adds none.
-- Reads several models; Dagster shows it as a check on int_period_figures.
{{ config(meta={'dagster': {'ref': {'name': 'int_period_figures'}}}) }}
with

frozen as (
    select * from {{ ref('stg_control__frozen_figures') }}
),

frozen_periods as (
    select distinct period from frozen
),

current_ as (
    select * from {{ ref('int_period_figures') }}
    where period in (select period from frozen_periods)
)

select
    coalesce(frozen.period, current_.period) as period,
    coalesce(frozen.customer_id, current_.customer_id) as customer_id,
    coalesce(frozen.figure, current_.figure) as figure,
    frozen.value as frozen_value,
    current_.value as current_value
from frozen
full outer join current_
    on frozen.period = current_.period and frozen.customer_id = current_.customer_id and frozen.figure = current_.figure
where frozen.value is distinct from current_.value
