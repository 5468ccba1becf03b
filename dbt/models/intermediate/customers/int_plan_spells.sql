-- Each subscription spell with the plan terms the ledger needs at any instant inside it:
-- the overage policy and the rollover rule.
select
    subscriptions.customer_id,
    subscriptions.plan_id,
    subscriptions.started_at,
    subscriptions.ended_at,
    plans.overage,
    plans.rollover_max_credits,
    plans.rollover_expires_after_periods
from {{ ref('int_subscriptions_validated') }} as subscriptions
inner join {{ ref('stg_catalog__plans') }} as plans on subscriptions.plan_id = plans.plan_id
where subscriptions.is_current
