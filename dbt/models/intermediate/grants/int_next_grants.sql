-- Each customer's next grant after the run's clock, for the depletion forecast
-- (docs/ledger.md "Depletion forecast"): the first instant after the clock at which credits
-- are known to arrive, the earlier of
-- - a grant scheduled at the clock (fct_grants.status = 'scheduled', credits > 0): a
--   grants-feed row or purchase dated after the clock, or the first allowance of a
--   subscription starting after it;
-- - the next period's allowance of the plan spell running at the clock, when the spell
--   runs past that period's start and the plan includes credits (int_grants_unioned lists
--   it only once its period has started).
-- Top-ups and rollovers are made by the walk as it goes, so they are never foreseen.
with

next_period as (
    select {{ month_start(as_of_at()) }} + interval 1 month as next_period_start
),

scheduled as (
    select customer_id, effective_at
    from {{ ref('fct_grants') }}
    where status = 'scheduled' and credits > 0
),

next_allowances as (
    select spells.customer_id, next_period.next_period_start as effective_at
    from {{ ref('int_plan_spells') }} as spells
    inner join {{ ref('stg_catalog__plans') }} as plans on spells.plan_id = plans.plan_id
    cross join next_period
    where
        plans.included_credits > 0
        and spells.started_at <= {{ as_of_at() }}
        and (spells.ended_at is null or spells.ended_at > next_period.next_period_start)
)

select customer_id, min(effective_at) as next_grant_at
from (
    select * from scheduled
    union all
    select * from next_allowances
) as coming
group by customer_id
