-- Per customer, the sum of the ledger equals the last balance_after and the last closing_credits.
-- Reads several models; Dagster shows it as a check on fct_balances_daily.
{{ config(meta={'dagster': {'ref': {'name': 'fct_balances_daily'}}}) }}
with

ledger as (
    select customer_id, sum(credits) as total,
        max_by(balance_after, entry_seq) as last_balance
    from {{ ref('fct_credit_ledger') }}
    group by customer_id
),

daily as (
    select customer_id, max_by(closing_credits, balance_date) as last_closing
    from {{ ref('fct_balances_daily') }}
    group by customer_id
)

select *
from ledger
left join daily using (customer_id)
where ledger.total <> ledger.last_balance or ledger.total is distinct from daily.last_closing
