-- contract §8.1: usage draws only on grants that apply to its aggregator - a grant with no
-- scope, or whose scope names the aggregator or a credit product that prices it. Returns
-- the usage entries drawn on any other grant.
-- A scope is ids joined by | (fct_grants.applies_to): an id is in it when '|id|' is in
-- '|scope|'. Text, not lists, so the same SQL runs on DuckDB and Spark.
with

usage as (
    select
        ledger.entry_id,
        ledger.aggregator_id,
        grants.applies_to
    from {{ ref('fct_credit_ledger') }} as ledger
    inner join {{ ref('fct_grants') }} as grants on ledger.grant_id = grants.grant_id
    where ledger.entry_type = 'usage' and grants.applies_to <> ''
),

-- The ids a scope may name to cover an aggregator: itself, or a credit product pricing it.
covering_ids as (
    select distinct aggregator_id, aggregator_id as scope_id from usage
    union all
    select distinct aggregator_id, credit_product_id as scope_id from {{ ref('stg_catalog__rates') }}
)

select usage.entry_id, usage.aggregator_id, usage.applies_to
from usage
where not exists (
    select 1
    from covering_ids
    where
        covering_ids.aggregator_id = usage.aggregator_id
        and instr('|' || usage.applies_to || '|', '|' || covering_ids.scope_id || '|') > 0
)
