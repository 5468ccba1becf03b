-- Each debit's eligibility class (contract §8.1, docs/ledger.md "Scoped credits"), per
-- customer × ledger segment × aggregator: the scopes in play in the segment that apply to
-- the aggregator (directly or through its credit product), sorted and joined by ';'. A
-- debit may draw on a grant with no scope, or with a scope its class lists, and on no
-- other; debits of one class can be summed, debits of two cannot (int_usage_segments).
-- Only segments where a scope is in play are listed: elsewhere every debit's class is ''.
-- A scope is in play from the start of the period its grant takes effect in (a grant
-- repays what is still owed in its period) until the grant expires; a plan allowance that
-- may roll over, and a top-up setting's bundle, stay in play from then on. A class may list
-- a scope no live grant carries: that splits debits the walk could have summed, never the
-- other way round. A set_expiry amendment the walk applies (docs/ledger.md "Grant
-- amendments") may move a grant's expiry later: its scope stays in play until the latest
-- expiry any of them gives.
with

rollover_plans as (
    select plan_id from {{ ref('stg_catalog__plans') }} where rollover_max_credits > 0
),

moved_expiries as (
    select grant_id, max(greatest(new_expires_at, effective_at)) as latest_expires_at
    from {{ ref('int_grant_amendments_sequenced') }}
    where action = 'set_expiry' and settled_outcome is null
    group by grant_id
),

scoped as (
    select
        grants.customer_id,
        grants.applies_to,
        {{ month_start('grants.effective_at') }} as in_play_from,
        case
            when grants.kind = 'plan_allowance' and grants.source_id in (select plan_id from rollover_plans)
                then null
            when grants.expires_at is not null
                then greatest(grants.expires_at, coalesce(moved_expiries.latest_expires_at, grants.expires_at))
        end as in_play_to
    from {{ ref('int_grants_taking_effect') }} as grants
    left join moved_expiries on grants.grant_id = moved_expiries.grant_id
    where grants.applies_to <> '' and grants.credits > 0
    union all
    select
        customer_id,
        applies_to,
        {{ month_start('enabled_from') }} as in_play_from,
        cast(null as timestamp) as in_play_to
    from {{ ref('int_auto_topups_priced') }}
    where applies_to <> ''
),

scope_ids as (
    select distinct applies_to, scope_id
    from (select applies_to, {{ split_to_rows('applies_to', '|') }} as scope_id from scoped) as split
),

scope_aggregators as (
    -- The aggregators each scope applies to: those it names, and those priced by the credit
    -- products it names.
    select scope_ids.applies_to, aggregators.aggregator_id
    from scope_ids
    inner join {{ ref('stg_catalog__aggregators') }} as aggregators
        on scope_ids.scope_id = aggregators.aggregator_id
    union
    select scope_ids.applies_to, rates.aggregator_id
    from scope_ids
    inner join {{ ref('stg_catalog__rates') }} as rates on scope_ids.scope_id = rates.credit_product_id
),

segments as (
    select customer_id, segment_start_at, segment_end_at
    from {{ ref('int_ledger_segments') }}
    where customer_id in (select customer_id from scoped)
),

in_play as (
    select segments.customer_id, segments.segment_start_at, scoped.applies_to
    from segments
    inner join scoped
        on
            segments.customer_id = scoped.customer_id
            and scoped.in_play_from < coalesce(segments.segment_end_at, {{ infinity_timestamp() }})
            and coalesce(scoped.in_play_to, {{ infinity_timestamp() }}) > segments.segment_start_at
),

segments_in_play as (
    select distinct customer_id, segment_start_at from in_play
)

select
    segments_in_play.customer_id,
    segments_in_play.segment_start_at,
    aggregators.aggregator_id,
    {{ sorted_distinct_joined('scope_aggregators.applies_to', ';') }} as eligibility_class
from segments_in_play
cross join {{ ref('stg_catalog__aggregators') }} as aggregators
left join in_play
    on
        segments_in_play.customer_id = in_play.customer_id
        and segments_in_play.segment_start_at = in_play.segment_start_at
left join scope_aggregators
    on
        in_play.applies_to = scope_aggregators.applies_to
        and aggregators.aggregator_id = scope_aggregators.aggregator_id
group by segments_in_play.customer_id, segments_in_play.segment_start_at, aggregators.aggregator_id
