-- Every grant, whatever its source (contract §4 "Grants"): plan allowances at each period start
-- and at subscription start, succeeded purchases, and the grants feed. Auto top-ups and
-- rollovers are produced by the ledger itself (docs/ledger.md). Each carries its scope
-- (contract §8.1): the plan's, the bundle's or the feed row's applies_to.
-- Grants taking effect after the run's clock are listed too, flagged `is_scheduled`
-- (contract §8.2): fct_grants shows them, the ledger walk does not see them yet.
with

subscriptions as (
    select * from {{ ref('int_subscriptions_validated') }} where is_current
),

plans as (
    select * from {{ ref('stg_catalog__plans') }}
),

plan_prices as (
    select * from {{ ref('stg_catalog__plan_prices') }}
),

bundles as (
    select * from {{ ref('stg_catalog__bundles') }}
),

customer_currency as (
    select customer_id, billing_currency as currency
    from {{ ref('int_customers_validated') }}
    where is_current
),

subscription_periods as (
    -- One row per subscription and billing period it overlaps, up to the clock; a
    -- subscription starting after the clock has its first period (its allowance is known).
    -- The last period starts by the clock, or by the spell's start when that is later, and
    -- never past the spell's end:
    {%- set last_period_start -%}
        least(
                coalesce(subscriptions.ended_at, greatest({{ as_of_at() }}, subscriptions.started_at)),
                greatest({{ as_of_at() }}, subscriptions.started_at)
            )
    {%- endset %}
    select
        subscriptions.customer_id,
        subscriptions.plan_id,
        subscriptions.started_at,
        subscriptions.ended_at,
        period_start
    from subscriptions
    cross join lateral (
        select {{ series_rows(month_start('subscriptions.started_at'), last_period_start, 'interval 1 month') }}
            as period_start
    ) as periods
),

allowances as (
    select
        subscription_periods.customer_id,
        'plan_allowance' as kind,
        plans.included_credits as credits,
        greatest(subscription_periods.period_start, subscription_periods.started_at) as effective_at,
        least(
            case
                when plans.allowance_expires_after_days is null
                    then subscription_periods.period_start + interval 1 month
                else greatest(subscription_periods.period_start, subscription_periods.started_at)
                    + {{ days_interval('plans.allowance_expires_after_days') }}
            end,
            coalesce(subscription_periods.ended_at, cast('9999-12-31' as timestamp))
        ) as expires_at,
        plans.priority,
        customer_currency.currency,
        -- The fee for this period: prorated by the remaining share of the period, in
        -- seconds, when the spell starts inside it (a plan change or a mid-month start).
        case
            when subscription_periods.started_at <= subscription_periods.period_start then plan_prices.fee_amount
            else cast({{ round_half_even_div(
                [
                    big_integer('plan_prices.fee_amount'),
                    seconds_between('subscription_periods.started_at', 'subscription_periods.period_start + interval 1 month'),
                ],
                seconds_between('subscription_periods.period_start', 'subscription_periods.period_start + interval 1 month')
            ) }} as bigint)
        end as paid_amount,
        'subscription' as source_type,
        subscription_periods.plan_id as source_id,
        plans.applies_to
    from subscription_periods
    inner join plans on subscription_periods.plan_id = plans.plan_id
    inner join customer_currency on subscription_periods.customer_id = customer_currency.customer_id
    left join plan_prices
        on plans.plan_id = plan_prices.plan_id and customer_currency.currency = plan_prices.currency
    where plans.included_credits > 0
),

purchases as (
    select
        purchases.customer_id,
        'purchase' as kind,
        cast((bundles.credits + bundles.bonus_credits) * purchases.quantity as {{ credits_type() }}) as credits,
        purchases.purchased_at as effective_at,
        purchases.purchased_at + {{ days_interval('bundles.expires_after_days') }} as expires_at,
        bundles.priority,
        purchases.currency,
        purchases.amount_paid as paid_amount,
        'purchase' as source_type,
        purchases.purchase_id as source_id,
        bundles.applies_to
    from {{ ref('int_purchases_validated') }} as purchases
    inner join bundles on purchases.bundle_id = bundles.bundle_id
    where purchases.is_current and purchases.status in ('succeeded', 'refunded')
),

feed as (
    select
        grants.customer_id,
        grants.kind,
        grants.credits,
        grants.effective_at,
        grants.expires_at,
        coalesce(grants.priority, 50) as priority,
        customer_currency.currency,
        cast(null as bigint) as paid_amount,
        'grants_feed' as source_type,
        grants.grant_id as source_id,
        grants.applies_to,
        grants.cost_basis_per_credit
    from {{ ref('int_grants_feed_validated') }} as grants
    inner join customer_currency on grants.customer_id = customer_currency.customer_id
    where grants.is_current
),

paid as (
    select
        source_type || ':' || source_id || case
            when kind = 'plan_allowance' then ':' || customer_id || ':' || {{ format_timestamp('effective_at', '%Y-%m-%dT%H:%M:%S') }}
            else ''
        end as grant_id,
        *,
        case
            when paid_amount is null or paid_amount = 0 then cast(0 as decimal(38, 12))
            else {{ cost_basis_per_credit('paid_amount', 'credits') }}
        end as cost_basis_per_credit
    from (
        select * from allowances
        union all
        select * from purchases
    ) as sourced
),

unioned as (
    select
        grant_id, customer_id, kind, credits, effective_at,
        nullif(expires_at, cast('9999-12-31' as timestamp)) as expires_at,
        priority, cost_basis_per_credit, currency, paid_amount, source_type, source_id,
        applies_to
    from paid
    union all
    select
        source_id as grant_id, customer_id, kind, credits, effective_at, expires_at,
        priority, cost_basis_per_credit, currency, paid_amount, source_type, source_id,
        applies_to
    from feed
)

select
    unioned.*,
    unioned.effective_at > {{ as_of_at() }} as is_scheduled
from unioned
-- A spell ending exactly at a period start leaves no allowance for that period.
where unioned.expires_at is null or unioned.expires_at > unioned.effective_at
