-- When each customer's credits run out at their recent rate, forecast at an instant: the
-- run's clock (dim_customers, the forecast_depletion alert) and every period end the clock
-- has reached (that period's statement). docs/ledger.md "Depletion forecast":
-- - burn: the credits of usage debited in the 28 days before the instant,
--   [forecast_at - 28 days, forecast_at), so the rate per day is credits_consumed_28d / 28;
-- - the balance at the instant, after every entry at it (fct_balances_over_time);
-- - days_left = floor(balance / (credits_consumed_28d / 28)), in exact integers: DuckDB
--   divides decimals in double precision, so the credits are scaled to integers first;
-- - projected_depletion_date = the instant's UTC date + days_left;
-- - none (null) without burn, without a positive balance, or beyond 100 years.
with

customers as (
    select customer_id from {{ ref('int_customers_validated') }} where is_current
),

-- The clock, and the end of every period with ledger entries that the clock has reached;
-- one row when the clock is itself a period end.
instants as (
    select {{ as_of_at() }} as forecast_at
    union
    select {{ period_start_of('period') }} + interval 1 month
    from (select distinct period from {{ ref('fct_credit_ledger') }})
    where {{ period_start_of('period') }} + interval 1 month <= {{ as_of_at() }}
),

burn as (
    select
        rated.customer_id,
        instants.forecast_at,
        sum(rated.credits) as credits_consumed_28d
    from {{ ref('int_events_rated') }} as rated
    inner join instants
        on
            rated.booked_at >= instants.forecast_at - interval 28 day
            and rated.booked_at < instants.forecast_at
    group by rated.customer_id, instants.forecast_at
),

balances as (
    select
        balances.customer_id,
        instants.forecast_at,
        balances.balance
    from {{ ref('fct_balances_over_time') }} as balances
    inner join instants
        on
            balances.valid_from <= instants.forecast_at
            and (balances.valid_to is null or instants.forecast_at < balances.valid_to)
),

forecasts as (
    select
        customers.customer_id,
        instants.forecast_at,
        coalesce(balances.balance, 0) as balance,
        coalesce(burn.credits_consumed_28d, 0) as credits_consumed_28d,
        -- Both positive, so the truncating division is the floor.
        case
            when balances.balance > 0 and burn.credits_consumed_28d > 0
                then {{ truncating_div(
                    ['28', scaled_credits('balances.balance')], scaled_credits('burn.credits_consumed_28d')
                ) }}
        end as days_left
    from customers
    cross join instants
    left join balances
        on customers.customer_id = balances.customer_id and instants.forecast_at = balances.forecast_at
    left join burn
        on customers.customer_id = burn.customer_id and instants.forecast_at = burn.forecast_at
)

select
    customer_id,
    forecast_at,
    cast(balance as {{ credits_type() }}) as balance,
    cast(credits_consumed_28d as {{ credits_type() }}) as credits_consumed_28d,
    cast(case when days_left <= 36525 then days_left end as bigint) as days_left,
    cast(forecast_at as date) + cast(case when days_left <= 36525 then days_left end as integer)
        as projected_depletion_date
from forecasts
