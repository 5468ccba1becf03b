-- Each customer's balance day by day (contract §6.1), from the first ledger day to the clock:
-- opening + granted - consumed - expired + other = closing.
with

ledger as (
    select * from {{ ref('fct_credit_ledger') }}
),

daily as (
    select
        customer_id,
        cast(entry_at as date) as balance_date,
        sum(case when entry_type = 'grant' then credits else 0 end) as granted_credits,
        -sum(case when entry_type in {{ consumed_entry_types() }} then credits else 0 end)
            as consumed_credits,
        -sum(case when entry_type in {{ expired_entry_types() }} then credits else 0 end) as expired_credits,
        sum(credits) as net_credits
    from ledger
    group by customer_id, cast(entry_at as date)
),

first_days as (
    select customer_id, min(balance_date) as first_date, cast({{ as_of_at() }} as date) as last_date
    from daily
    group by customer_id
),

spine as (
    select customer_id, cast(balance_at as date) as balance_date
    from (
        select
            customer_id,
            {{ series_rows('first_date', 'last_date', 'interval 1 day') }} as balance_at
        from first_days
    ) as days
),

filled as (
    select
        spine.customer_id,
        spine.balance_date,
        coalesce(daily.granted_credits, 0) as granted_credits,
        coalesce(daily.consumed_credits, 0) as consumed_credits,
        coalesce(daily.expired_credits, 0) as expired_credits,
        coalesce(daily.net_credits, 0) as net_credits,
        sum(coalesce(daily.net_credits, 0)) over (
            partition by spine.customer_id order by spine.balance_date
            rows between unbounded preceding and current row
        ) as closing_credits
    from spine
    left join daily on spine.customer_id = daily.customer_id and spine.balance_date = daily.balance_date
)

select
    customer_id,
    balance_date,
    cast(closing_credits - net_credits as {{ credits_type() }}) as opening_credits,
    cast(granted_credits as {{ credits_type() }}) as granted_credits,
    cast(consumed_credits as {{ credits_type() }}) as consumed_credits,
    cast(expired_credits as {{ credits_type() }}) as expired_credits,
    -- Repayments, settlements, write-offs, refunds and grant voids: what moves the balance besides
    -- grants, consumption and expiry (a rollover counts as expired from its allowance and
    -- granted again as the rollover grant).
    cast(net_credits - granted_credits + consumed_credits + expired_credits as {{ credits_type() }})
        as other_credits,
    cast(closing_credits as {{ credits_type() }}) as closing_credits
from filled
