-- The lists on a customer's credit statement (contract §6.2), one row per line, numbered in
-- print order within each section:
--   usage           credits, events and units per aggregator
--   top_user        the period's five users spending the most credits (contract §8.4)
--   grant           grants that became effective in the period
--   coming          grants scheduled after the period's end, as known at the clock
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
        cast(null as string) as kind,
        cast(null as timestamp) as occurred_at,
        cast(null as timestamp) as expires_at,
        sum(events) as events,
        sum(units) as units,
        sum(credits) as credits,
        cast(null as bigint) as amount,
        cast(null as string) as currency
    from {{ ref('fct_monthly_usage') }}
    group by customer_id, period, aggregator_id
),

-- The users are the values of the `user_id` dimension (the catalog's aggregators keep it);
-- events without one are nobody's. Credits across aggregators add up; units do not.
user_totals as (
    select
        customer_id,
        period,
        dimension_value as user_id,
        sum(events) as events,
        sum(credits) as credits
    from {{ ref('fct_monthly_usage_by_dimension') }}
    where dimension_name = 'user_id' and dimension_value is not null
    group by customer_id, period, dimension_value
),

top_user_lines as (
    select * from (
        select
            customer_id,
            period,
            'top_user' as section,
            row_number() over (
                partition by customer_id, period order by credits desc, user_id asc
            ) as line_number,
            user_id as item_id,
            user_id as label,
            cast(null as string) as kind,
            cast(null as timestamp) as occurred_at,
            cast(null as timestamp) as expires_at,
            events,
            cast(null as {{ units_type() }}) as units,
            credits,
            cast(null as bigint) as amount,
            cast(null as string) as currency
        from user_totals
    ) as ranked
    where line_number <= 5
),

-- A grant is received in the period it takes effect in, once it has (contract §8.2).
-- The grant's customer_id is the statement's (one column of that name: Spark refuses two).
received_grants as (
    select statements.period, grants.*
    from statements
    inner join {{ ref('fct_grants') }} as grants
        on
            statements.customer_id = grants.customer_id
            and grants.effective_at >= statements.period_start
            and grants.effective_at < statements.period_end
    -- A grant voided before it took effect was never received (contract §8.3).
    where
        grants.status <> 'scheduled'
        and (grants.voided_at is null or grants.voided_at > grants.effective_at)
),

-- A grant scheduled at the clock is coming on every statement whose period ends before it
-- takes effect.
coming_grants as (
    select statements.period, grants.*
    from statements
    inner join {{ ref('fct_grants') }} as grants
        on
            statements.customer_id = grants.customer_id
            and grants.effective_at >= statements.period_end
    where grants.status = 'scheduled'
),

period_grants as (
    select received_grants.*, sections.section
    from received_grants
    -- A top-up is listed twice: among the grants, and again among the top-ups.
    inner join (
        select 'grant' as section
        union all
        select 'topup' as section
    ) as sections
        on sections.section = 'grant' or received_grants.kind = 'auto_topup'
    union all
    select coming_grants.*, 'coming' as section
    from coming_grants
),

grant_lines as (
    select
        period_grants.customer_id,
        period_grants.period,
        period_grants.section,
        row_number() over (
            partition by period_grants.customer_id, period_grants.period, period_grants.section
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
        cast(null as string) as currency
    from period_grants
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
        cast(null as string) as currency
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
        cast(null as string) as item_id,
        cast(null as string) as label,
        cast(null as string) as kind,
        cast(balances.balance_date as timestamp) as occurred_at,
        cast(null as timestamp) as expires_at,
        cast(null as bigint) as events,
        cast(null as {{ units_type() }}) as units,
        balances.closing_credits as credits,
        cast(null as bigint) as amount,
        cast(null as string) as currency
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
    select * from top_user_lines
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
