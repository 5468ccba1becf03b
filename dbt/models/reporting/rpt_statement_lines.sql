-- The lists on a customer's credit statement (contract §6.2), one row per line, numbered in
-- print order within each section:
--   usage           credits, events and units per aggregator
--   grant           grants that became effective in the period
--   topup           automatic top-ups granted in the period
--   expiration      credits that expired in the period, per grant
--   daily_balance   the balance at each day's end (the chart)
--   invoice         the period's finalized invoices and credit notes
-- Columns a section does not use are null.
with

statements as (
    select customer_id, period, period_start, period_end from {{ ref('rpt_statements') }}
),

labels as (
    select * from {{ ref('int_grant_labels') }}
),

usage_lines as (
    select
        customer_id,
        period,
        'usage' as section,
        row_number() over (partition by customer_id, period order by aggregator_id) as line_number,
        aggregator_id as item_id,
        aggregator_id as label,
        cast(null as varchar) as kind,
        cast(null as timestamp) as occurred_at,
        cast(null as timestamp) as expires_at,
        sum(events) as events,
        sum(units) as units,
        sum(credits) as credits,
        cast(null as bigint) as amount,
        cast(null as varchar) as currency
    from {{ ref('fct_monthly_usage') }}
    group by customer_id, period, aggregator_id
),

period_grants as (
    select statements.customer_id, statements.period, grants.*
    from statements
    inner join {{ ref('fct_grants') }} as grants
        on
            statements.customer_id = grants.customer_id
            and grants.effective_at >= statements.period_start
            and grants.effective_at < statements.period_end
),

-- A top-up is listed twice: among the grants, and again among the top-ups.
sections as (
    select 'grant' as section
    union all
    select 'topup' as section
),

grant_lines as (
    select
        period_grants.customer_id,
        period_grants.period,
        sections.section,
        row_number() over (
            partition by period_grants.customer_id, period_grants.period, sections.section
            order by period_grants.effective_at, period_grants.grant_id
        ) as line_number,
        period_grants.grant_id as item_id,
        labels.grant_label as label,
        period_grants.kind,
        period_grants.effective_at as occurred_at,
        period_grants.expires_at,
        cast(null as bigint) as events,
        cast(null as {{ units_type() }}) as units,
        period_grants.credits,
        cast(null as bigint) as amount,
        cast(null as varchar) as currency
    from period_grants
    inner join sections on sections.section = 'grant' or period_grants.kind = 'auto_topup'
    left join labels on period_grants.grant_id = labels.grant_id
),

expiration_lines as (
    select
        ledger.customer_id,
        ledger.period,
        'expiration' as section,
        row_number() over (
            partition by ledger.customer_id, ledger.period
            order by ledger.entry_at, ledger.grant_id, ledger.entry_seq
        ) as line_number,
        ledger.grant_id as item_id,
        labels.grant_label as label,
        grants.kind,
        ledger.entry_at as occurred_at,
        cast(null as timestamp) as expires_at,
        cast(null as bigint) as events,
        cast(null as {{ units_type() }}) as units,
        -ledger.credits as credits,
        cast(null as bigint) as amount,
        cast(null as varchar) as currency
    from {{ ref('fct_credit_ledger') }} as ledger
    inner join {{ ref('fct_grants') }} as grants on ledger.grant_id = grants.grant_id
    left join labels on ledger.grant_id = labels.grant_id
    where ledger.entry_type = 'expiry'
),

daily_balance_lines as (
    select
        statements.customer_id,
        statements.period,
        'daily_balance' as section,
        row_number() over (
            partition by statements.customer_id, statements.period order by balances.balance_date
        ) as line_number,
        cast(null as varchar) as item_id,
        cast(null as varchar) as label,
        cast(null as varchar) as kind,
        cast(balances.balance_date as timestamp) as occurred_at,
        cast(null as timestamp) as expires_at,
        cast(null as bigint) as events,
        cast(null as {{ units_type() }}) as units,
        balances.closing_credits as credits,
        cast(null as bigint) as amount,
        cast(null as varchar) as currency
    from statements
    inner join {{ ref('fct_balances_daily') }} as balances
        on
            statements.customer_id = balances.customer_id
            and balances.balance_date >= cast(statements.period_start as date)
            and balances.balance_date < cast(statements.period_end as date)
),

invoice_lines as (
    select
        customer_id,
        period,
        'invoice' as section,
        row_number() over (partition by customer_id, period order by invoice_number) as line_number,
        invoice_number as item_id,
        invoice_number as label,
        invoice_type as kind,
        issued_at as occurred_at,
        cast(null as timestamp) as expires_at,
        cast(null as bigint) as events,
        cast(null as {{ units_type() }}) as units,
        cast(null as {{ credits_type() }}) as credits,
        total as amount,
        currency
    from {{ ref('fct_invoices') }}
    where status = 'finalized'
),

lines as (
    select * from usage_lines
    union all
    select * from grant_lines
    union all
    select * from expiration_lines
    union all
    select * from daily_balance_lines
    union all
    select * from invoice_lines
)

-- Only the lines of a statement that exists (an invoice dated at a period's first instant
-- belongs to the period before, which may have no statement).
select
    lines.customer_id,
    lines.period,
    lines.section,
    cast(lines.line_number as bigint) as line_number,
    lines.item_id,
    lines.label,
    lines.kind,
    lines.occurred_at,
    lines.expires_at,
    cast(lines.events as bigint) as events,
    cast(lines.units as {{ units_type() }}) as units,
    cast(lines.credits as {{ credits_type() }}) as credits,
    lines.amount,
    lines.currency
from lines
inner join statements on lines.customer_id = statements.customer_id and lines.period = statements.period
