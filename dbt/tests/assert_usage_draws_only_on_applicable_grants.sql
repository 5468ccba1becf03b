-- contract §8.1: usage draws only on grants that apply to its aggregator - a grant with no
-- scope, or whose scope names the aggregator or a credit product that prices it. Returns
-- the usage entries drawn on any other grant.
with

usage as (
    select
        ledger.entry_id,
        ledger.aggregator_id,
        string_split(grants.applies_to, '|') as scope_ids
    from {{ ref('fct_credit_ledger') }} as ledger
    inner join {{ ref('fct_grants') }} as grants on ledger.grant_id = grants.grant_id
    where ledger.entry_type = 'usage' and grants.applies_to <> ''
),

products as (
    select aggregator_id, list(distinct credit_product_id) as product_ids
    from {{ ref('stg_catalog__rates') }}
    group by aggregator_id
)

select usage.entry_id, usage.aggregator_id, usage.scope_ids
from usage
left join products on usage.aggregator_id = products.aggregator_id
where
    not list_contains(usage.scope_ids, usage.aggregator_id)
    and not list_has_any(usage.scope_ids, coalesce(products.product_ids, []))
