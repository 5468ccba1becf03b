-- The alert rules: customer notifications, one row per alert with a stable alert_id, so an
-- outbox can send each exactly once across runs (fct_alerts publishes them):
-- - low_balance: the balance falls below the customer's threshold: the customers feed's
--   low_balance_threshold when set (for the whole history, plan or no plan), else the
--   warning_limit of the plan in effect at that instant;
-- - balance_depleted: the balance falls to zero or below;
-- - credits_expiring: N days (catalog) before an expiry that still has credits then;
-- - unfunded_usage: the first unfunded usage of a period;
-- - usage_spike: a day's credits above k × the trailing 28-day median (k in the catalog);
-- - user_limit: a user's credits in a period going past the monthly_credits of the plan's
--   user_limits (contract §8.4), once per user and period (docs/ledger.md "Spend by user").
-- - forecast_depletion: at the clock, the balance runs out at the recent rate before the
--   next grant arrives (dim_customers; docs/ledger.md "Depletion forecast"), once per
--   customer and next grant: its alert_id names the next grant, not the clock, so the
--   outbox sends it once however many runs still see it.
with

ledger as (
    select
        *,
        coalesce(
            lag(balance_after) over (partition by customer_id order by entry_seq), 0
        ) as balance_before
    from {{ ref('fct_credit_ledger') }}
),

overrides as (
    select customer_id, low_balance_threshold as warning_limit
    from {{ ref('int_customers_validated') }}
    where is_current and low_balance_threshold is not null
),

-- One threshold per customer at any instant: the override over all time, else the plan spells.
limits as (
    select
        customer_id,
        cast(null as timestamp) as started_at,
        cast(null as timestamp) as ended_at,
        warning_limit,
        true as is_override
    from overrides
    union all
    select spells.customer_id, spells.started_at, spells.ended_at, plans.warning_limit, false as is_override
    from {{ ref('int_plan_spells') }} as spells
    inner join {{ ref('stg_catalog__plans') }} as plans on spells.plan_id = plans.plan_id
    where spells.customer_id not in (select customer_id from overrides)
),

low_balance as (
    select
        ledger.customer_id, 'low_balance' as alert_type, ledger.entry_at as triggered_at,
        -- Plan-limit details keep their shape so that alert_ids already sent do not change.
        case
            when limits.is_override
                then {{ json_object_text([
                    ['balance', 'ledger.balance_after', 'number'],
                    ['warning_limit', 'limits.warning_limit', 'number'],
                    ['threshold_source', "'customer'", 'text'],
                ]) }}
            else {{ json_object_text([
                ['balance', 'ledger.balance_after', 'number'], ['warning_limit', 'limits.warning_limit', 'number']
            ]) }}
        end as details
    from ledger
    inner join limits
        on
            ledger.customer_id = limits.customer_id
            and (limits.started_at is null or ledger.entry_at >= limits.started_at)
            and (limits.ended_at is null or ledger.entry_at < limits.ended_at)
    where ledger.balance_before >= limits.warning_limit and ledger.balance_after < limits.warning_limit
),

depleted as (
    select
        customer_id, 'balance_depleted', entry_at,
        {{ json_object_text([['balance', 'balance_after', 'number']]) }}
    from ledger
    where balance_before > 0 and balance_after <= 0
),

unfunded as (
    select
        customer_id, 'unfunded_usage', min(entry_at),
        {{ json_object_text([['period', 'period', 'text'], ['credits', '-sum(credits)', 'number']]) }}
    from ledger
    where entry_type = 'unfunded'
    group by customer_id, period
),

expiring as (
    select
        grants.customer_id, 'credits_expiring',
        grants.expires_at - {{ days_interval('days.days_before') }} as triggered_at,
        {{ json_object_text([
            ['grant_id', 'grants.grant_id', 'text'], ['expires_at', 'grants.expires_at', 'text'],
            ['days_before', 'days.days_before', 'number'], ['credits', 'sum(ledger.credits)', 'number'],
        ]) }}
    from {{ ref('fct_grants') }} as grants
    cross join {{ ref('stg_catalog__alert_expiring_days') }} as days
    inner join ledger
        on
            ledger.grant_id = grants.grant_id
            and ledger.entry_at < grants.expires_at - {{ days_interval('days.days_before') }}
    where
        grants.expires_at is not null
        and grants.expires_at - {{ days_interval('days.days_before') }} > grants.effective_at
    group by grants.customer_id, grants.grant_id, grants.expires_at, days.days_before
    having sum(ledger.credits) > 0
),

daily as (
    select
        customer_id, balance_date, consumed_credits,
        {{ window_median('consumed_credits', 'trailing_window', 12) }} as trailing_median,
        count(*) over trailing_window as trailing_days
    from {{ ref('fct_balances_daily') }}
    window trailing_window as (partition by customer_id order by balance_date rows between 28 preceding and 1 preceding)
),

spikes as (
    select
        daily.customer_id, 'usage_spike', cast(daily.balance_date as timestamp) + interval 1 day,
        {{ json_object_text([
            ['date', 'daily.balance_date', 'text'], ['credits', 'daily.consumed_credits', 'number'],
            ['trailing_median', 'daily.trailing_median', 'number'],
        ]) }}
    from daily
    cross join (
        select cast(value as decimal(38, 6)) as factor
        from {{ ref('stg_catalog__settings') }} where setting = 'usage_spike_factor'
    ) as k
    where daily.trailing_days >= 7 and daily.trailing_median > 0 and daily.consumed_credits > k.factor * daily.trailing_median
),

-- The spells of plans with user_limits: few, and none when no plan sets them.
limited_spells as (
    select spells.customer_id, spells.started_at, spells.ended_at, limits.*
    from {{ ref('int_plan_spells') }} as spells
    inner join {{ ref('stg_catalog__plan_user_limits') }} as limits on spells.plan_id = limits.plan_id
),

-- The rated events under such a spell, each with its user (the value of the limit's
-- dimension; an event without one is nobody's), counted in the period it is billed in, at
-- the instant it is booked, in debit order. Voids do not take credits back here.
user_usage as (
    select
        rated.customer_id,
        rated.period,
        spells.plan_id,
        spells.dimension_name,
        spells.monthly_credits,
        {{ json_field_text('rated.dimensions', 'spells.dimension_name') }} as user_value,
        rated.booked_at,
        rated.dedup_key,
        rated.aggregator_id,
        rated.credits
    from {{ ref('int_events_rated') }} as rated
    inner join limited_spells as spells
        on
            rated.customer_id = spells.customer_id
            and rated.booked_at >= spells.started_at
            and (spells.ended_at is null or rated.booked_at < spells.ended_at)
    where {{ json_field_text('rated.dimensions', 'spells.dimension_name') }} is not null
),

-- Only a user whose period total under the plan goes past the limit needs a running total.
users_over as (
    select customer_id, period, plan_id, dimension_name, user_value
    from user_usage
    group by customer_id, period, plan_id, dimension_name, user_value
    having sum(credits) > any_value(monthly_credits)
),

user_running as (
    select
        user_usage.*,
        sum(user_usage.credits) over (
            partition by
                user_usage.customer_id, user_usage.period, user_usage.plan_id,
                user_usage.dimension_name, user_usage.user_value
            order by user_usage.booked_at, user_usage.dedup_key, user_usage.aggregator_id
            rows between unbounded preceding and current row
        ) as credits_to_date
    from user_usage
    semi join users_over
        using (customer_id, period, plan_id, dimension_name, user_value)
),

-- Crossed means past the limit (> monthly_credits; reaching it exactly is not crossing):
-- the first event that takes the total past it, once per user and period.
user_limit as (
    select
        customer_id, 'user_limit', booked_at,
        {{ json_object_text([
            ['period', 'period', 'text'], ['dimension', 'dimension_name', 'text'], ['user', 'user_value', 'text'],
            ['monthly_credits', 'monthly_credits', 'number'], ['credits', 'credits_to_date', 'number'],
        ]) }}
    from user_running
    where credits_to_date > monthly_credits
    qualify row_number() over (
        partition by customer_id, period, dimension_name, user_value
        order by booked_at, dedup_key, aggregator_id, plan_id
    ) = 1
),

-- At the clock only: the day the balance runs out comes before the day the next grant
-- arrives (a grant later that same day comes too late: the forecast is by day).
forecast as (
    select
        customer_id, 'forecast_depletion', {{ as_of_at() }},
        {{ json_object_text([
            ['projected_depletion_date', 'projected_depletion_date', 'text'],
            ['next_grant_at', 'next_grant_at', 'text'],
            ['balance', 'current_balance', 'number'],
            ['credits_consumed_28d', 'credits_consumed_28d', 'number'],
        ]) }}
    from {{ ref('dim_customers') }}
    where projected_depletion_date < cast(next_grant_at as date)
),

alerts as (
    -- The same notice twice at one instant (a balance depleted, refilled and depleted again
    -- within it) is one notification.
    select distinct * from (
        select * from low_balance
        union all
        select * from depleted
        union all
        select * from unfunded
        union all
        select * from expiring
        union all
        select * from spikes
        union all
        select * from user_limit
        union all
        select * from forecast
    ) as notices
)

select
    case
        when alert_type = 'forecast_depletion'
            then md5(customer_id || '|' || alert_type || '|' || ({{ json_field_text('details', "'next_grant_at'") }}))
        else
            md5(
                customer_id || '|' || alert_type || '|' || {{ format_timestamp('triggered_at', '%Y-%m-%dT%H:%M:%S') }}
                || '|' || cast(details as string)
            )
    end as alert_id,
    customer_id,
    alert_type,
    triggered_at,
    details
from alerts
where triggered_at <= {{ as_of_at() }}
