-- One row per customer and period (contract §6.2): every figure on the customer's credit
-- statement, read by the renderer in one select together with rpt_statement_lines.
-- A statement exists for every period with ledger activity and every customer created
-- before the period's end; the close writes those of closed periods.
with

ledger as (
    select * from {{ ref('fct_credit_ledger') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

periods as (
    select distinct
        period,
        {{ period_start_of('period') }} as period_start,
        {{ period_start_of('period') }} + interval 1 month as period_end
    from ledger
),

-- By the entries' `period`: a period-end settlement, dated at the next period's first
-- instant, still belongs to the period it settles (contract §4).
figures as (
    select
        customer_id,
        period,
        sum(credits) as net_credits,
        sum(case when entry_type = 'grant' then credits else 0 end) as granted,
        -sum(case when entry_type in {{ consumed_entry_types() }} then credits else 0 end) as consumed,
        -sum(case when entry_type in {{ expired_entry_types() }} then credits else 0 end) as expired,
        -sum(case when entry_type in {{ withdrawn_entry_types() }} then credits else 0 end) as refunded,
        sum(case when entry_type in {{ settled_entry_types() }} then credits else 0 end) as settled,
        sum(case when entry_type = 'void' then credits else 0 end) as voided
    from ledger
    group by customer_id, period
),

-- Every customer in every period, so the running balance carries over quiet periods.
balances as (
    select
        customers.customer_id,
        customers.created_at,
        periods.period,
        periods.period_start,
        periods.period_end,
        coalesce(figures.granted, 0) as granted,
        coalesce(figures.consumed, 0) as consumed,
        coalesce(figures.expired, 0) as expired,
        coalesce(figures.refunded, 0) as refunded,
        coalesce(figures.settled, 0) as settled,
        coalesce(figures.voided, 0) as voided,
        coalesce(figures.net_credits, 0) as net_credits,
        sum(coalesce(figures.net_credits, 0)) over (
            partition by customers.customer_id order by periods.period
            rows between unbounded preceding and current row
        ) as closing_balance
    from customers
    cross join periods
    left join figures on customers.customer_id = figures.customer_id and periods.period = figures.period
),

late_usage as (
    select customer_id, period, sum(credits) as late_usage
    from {{ ref('fct_rated_events') }}
    where is_late
    group by customer_id, period
),

grant_months as (
    select grant_id, {{ month_start('entry_at') }} as month_start, sum(credits) as credits
    from ledger
    where grant_id is not null
    group by grant_id, {{ month_start('entry_at') }}
),

-- Credits left at a period's end in grants that expire within the next 30, 60 or 90 days:
-- each grant's entries before the end, for grants expiring in the widest window.
expiring_grants as (
    select
        balances.customer_id,
        balances.period,
        grants.expires_at <= balances.period_end + interval 30 day as within_30,
        grants.expires_at <= balances.period_end + interval 60 day as within_60,
        sum(grant_months.credits) as left_at_end
    from balances
    inner join {{ ref('fct_grants') }} as grants
        on
            balances.customer_id = grants.customer_id
            and grants.expires_at > balances.period_end
            and grants.expires_at <= balances.period_end + interval 90 day
    inner join grant_months
        on grants.grant_id = grant_months.grant_id and grant_months.month_start < balances.period_end
    group by balances.customer_id, balances.period, grants.grant_id, grants.expires_at, balances.period_end
),

-- The forecast as of the statement's date, the period's end (docs/ledger.md "Depletion
-- forecast"); none for a period the clock has not ended.
forecasts as (
    select customer_id, forecast_at, projected_depletion_date
    from {{ ref('int_depletion_forecasts') }}
),

expiring as (
    select
        customer_id,
        period,
        sum(case when within_30 then left_at_end else 0 end) as expiring_30,
        sum(case when within_60 then left_at_end else 0 end) as expiring_60,
        sum(left_at_end) as expiring_90
    from expiring_grants
    group by customer_id, period
)

select
    balances.customer_id,
    balances.period,
    balances.period_start,
    balances.period_end,
    {{ customer_party_columns('customers') }},
    customers.currency,
    cast(balances.closing_balance - balances.net_credits as {{ credits_type() }}) as opening_balance,
    cast(balances.granted as {{ credits_type() }}) as granted,
    cast(balances.consumed as {{ credits_type() }}) as consumed,
    cast(balances.expired as {{ credits_type() }}) as expired,
    cast(balances.refunded as {{ credits_type() }}) as refunded,
    cast(balances.settled as {{ credits_type() }}) as settled,
    cast(balances.closing_balance as {{ credits_type() }}) as closing_balance,
    cast(balances.voided as {{ credits_type() }}) as voided,
    cast(coalesce(late_usage.late_usage, 0) as {{ credits_type() }}) as late_usage,
    cast(coalesce(expiring.expiring_30, 0) as {{ credits_type() }}) as expiring_30,
    cast(coalesce(expiring.expiring_60, 0) as {{ credits_type() }}) as expiring_60,
    cast(coalesce(expiring.expiring_90, 0) as {{ credits_type() }}) as expiring_90,
    forecasts.projected_depletion_date
from balances
inner join customers on balances.customer_id = customers.customer_id
left join late_usage on balances.customer_id = late_usage.customer_id and balances.period = late_usage.period
left join expiring on balances.customer_id = expiring.customer_id and balances.period = expiring.period
left join forecasts on balances.customer_id = forecasts.customer_id and balances.period_end = forecasts.forecast_at
where balances.created_at is null or balances.created_at < balances.period_end
