-- One row per customer (contract §6.1): who they are, their plan at the clock, their balance,
-- and when it runs out at their recent rate (docs/ledger.md "Depletion forecast").
with

customers as (
    select * from {{ ref('int_customers_validated') }} where is_current
),

current_plans as (
    select customer_id, plan_id
    from (
        select
            customer_id,
            plan_id,
            row_number() over (partition by customer_id order by started_at desc) as latest_first
        from {{ ref('int_subscriptions_validated') }}
        where
            is_current
            and started_at <= {{ as_of_at() }}
            and (ended_at is null or ended_at > {{ as_of_at() }})
    ) as subscriptions
    where latest_first = 1
),

balances as (
    select customer_id, current_balance
    from (
        select
            customer_id,
            balance_after as current_balance,
            row_number() over (partition by customer_id order by entry_seq desc) as latest_first
        from {{ ref('fct_credit_ledger') }}
    ) as entries
    where latest_first = 1
),

forecasts as (
    select customer_id, credits_consumed_28d, projected_depletion_date
    from {{ ref('int_depletion_forecasts') }}
    where forecast_at = {{ as_of_at() }}
)

select
    customers.customer_id,
    customers.external_id,
    customers.customer_name,
    customers.email,
    customers.address,
    customers.country,
    customers.billing_currency as currency,
    coalesce(customers.tax_rate, 0) as tax_rate,
    customers.created_at,
    current_plans.plan_id,
    cast(coalesce(balances.current_balance, 0) as {{ credits_type() }}) as current_balance,
    cast(coalesce(forecasts.credits_consumed_28d, 0) as {{ credits_type() }}) as credits_consumed_28d,
    forecasts.projected_depletion_date,
    next_grants.next_grant_at
from customers
left join current_plans on customers.customer_id = current_plans.customer_id
left join balances on customers.customer_id = balances.customer_id
left join forecasts on customers.customer_id = forecasts.customer_id
left join {{ ref('int_next_grants') }} as next_grants on customers.customer_id = next_grants.customer_id
