-- In a partitioned run (closing or replaying one billing period), the partition's window
-- reaches dbt as --vars [period_start, period_end), half-open. Two things must hold:
-- - the period was closed before this build (the close asset runs upstream of dbt);
-- - the window and the ledger agree: every entry in [period_start, period_end) carries
--   the partition's period, except that the previous period's settlements are booked at
--   its end, period_start (docs/ledger.md "Period end"); and an entry of the partition's
--   period lies in the window or at period_end, where its own settlements are booked.
-- Outside a partition the vars are empty and there is nothing to check.
-- Reads several models; Dagster shows it as a check on fct_credit_ledger.
{{ config(meta={'dagster': {'ref': {'name': 'fct_credit_ledger'}}}) }}
-- The refs sit inside the `if`, so dbt learns the order from these:
-- depends_on: {{ ref('fct_credit_ledger') }}
-- depends_on: {{ ref('stg_control__period_closes') }}
{% if run_var('period') %}

with

window_bounds as (
    select
        '{{ run_var('period') }}' as period,
        cast('{{ run_var('period_start') }}' as timestamp) as starts_at,
        cast('{{ run_var('period_end') }}' as timestamp) as ends_at,
        {{ period_of("cast('" ~ run_var('period_start') ~ "' as timestamp) - interval 1 second") }}
            as previous_period
)

select 'period not closed' as problem, window_bounds.period, null as entry_id
from window_bounds
where not exists (
    select 1 from {{ ref('stg_control__period_closes') }} as closes
    where closes.period >= window_bounds.period
)

union all

select 'entry on the wrong side of the window' as problem, ledger.period, ledger.entry_id
from {{ ref('fct_credit_ledger') }} as ledger
cross join window_bounds
where
    (
        ledger.entry_at >= window_bounds.starts_at
        and ledger.entry_at < window_bounds.ends_at
        and ledger.period <> window_bounds.period
        and not (
            ledger.entry_at = window_bounds.starts_at
            and ledger.period = window_bounds.previous_period
        )
    )
    or (
        ledger.period = window_bounds.period
        and (ledger.entry_at < window_bounds.starts_at or ledger.entry_at > window_bounds.ends_at)
    )

{% else %}

select null as problem, null as period, null as entry_id where false

{% endif %}
