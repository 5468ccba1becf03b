{{ config(meta={'dagster': {'ref': {'name': 'rpt_statements'}}}) }}
-- Each statement's closing balance is its customer's ledger balance after the period's last
-- entry, and opening + the period's entries = closing, so the PDF and the ledger agree.
with

statements as (
    select * from {{ ref('rpt_statements') }}
),

ledger as (
    select customer_id, period, sum(credits) as net_credits
    from {{ ref('fct_credit_ledger') }}
    group by customer_id, period
),

running as (
    select
        customer_id,
        period,
        sum(net_credits) over (partition by customer_id order by period) as closing_balance
    from ledger
)

select statements.customer_id, statements.period
from statements
left join ledger on statements.customer_id = ledger.customer_id and statements.period = ledger.period
left join running on statements.customer_id = running.customer_id and statements.period = running.period
where
    statements.opening_balance + coalesce(ledger.net_credits, 0) <> statements.closing_balance
    or (running.closing_balance is not null and running.closing_balance <> statements.closing_balance)
