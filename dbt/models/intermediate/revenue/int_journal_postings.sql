-- The journal rules: double-entry postings (contract §6.1), in minor units; every journal_id
-- balances (fct_journal_entries publishes them).
-- Accounts: cash (purchases paid at once), receivable (subscription invoices),
-- deferred_revenue, usage_revenue, breakage_revenue, overage_revenue, tax_payable, refunds.
-- Invoices post when issued; recognition and breakage post per customer at period end.
-- Breakage posts in two journals (docs/ledger.md "Breakage"): `breakage_estimate:` for the
-- estimate booked as credits are consumed (settings.breakage_policy proportional), and
-- `breakage:` for the true-up (all of it under at_expiry), both deferred -> breakage_revenue.
with

invoices as (
    select * from {{ ref('int_invoices_numbered') }}
),

lines as (
    select invoice_id, line_kind, sum(amount) as amount
    from {{ ref('int_invoice_lines_drafted') }}
    group by invoice_id, line_kind
),

invoice_postings as (
    -- What the customer owes or paid: the total, debited.
    select
        'invoice:' || invoice_id as journal_id, issued_at as posted_at, period, customer_id, currency,
        case when invoice_type = 'purchase' then 'cash' when invoice_type = 'subscription' then 'receivable'
            else 'refunds' end as account,
        total as amount, invoice_type as source_type, invoice_id as source_id, invoice_type <> 'credit_note' as is_debit
    from invoices
    union all
    -- Fees and credit bundles are deferred until their credits are consumed or expire.
    select
        'invoice:' || invoices.invoice_id, invoices.issued_at, invoices.period, invoices.customer_id, invoices.currency,
        case lines.line_kind when 'overage' then 'overage_revenue' else 'deferred_revenue' end,
        lines.amount, invoices.invoice_type, invoices.invoice_id, invoices.invoice_type = 'credit_note'
    from invoices
    inner join lines on invoices.invoice_id = lines.invoice_id
    union all
    select
        'invoice:' || invoice_id, issued_at, period, customer_id, currency, 'tax_payable',
        tax, invoice_type, invoice_id, invoice_type = 'credit_note'
    from invoices
),

revenue as (
    select
        customer_id, period, currency,
        sum(recognized_amount) as recognized,
        sum(breakage_estimate_amount) as breakage_estimate,
        sum(breakage_true_up_amount) as breakage_true_up
    from {{ ref('int_revenue_by_grant_period') }}
    group by customer_id, period, currency
),

-- Each customer's period as its two breakage parts, one row each (a lateral join of values
-- would be shorter, but Spark cannot read outer columns in inline values).
breakage_parts as (
    select
        revenue.customer_id,
        revenue.period,
        revenue.currency,
        parts.source_type,
        case parts.source_type
            when 'breakage_estimate' then revenue.breakage_estimate else revenue.breakage_true_up
        end as amount
    from revenue
    cross join (values ('breakage_estimate'), ('breakage')) as parts (source_type)
),

revenue_postings as (
    select
        'recognition:' || customer_id || ':' || period || ':' || currency as journal_id,
        {{ parse_timestamp('period', '%Y-%m') }} + interval 1 month as posted_at, period, customer_id, currency,
        accounts.account, abs(recognition.amount) as amount, 'revenue_recognition' as source_type,
        customer_id || ':' || period as source_id,
        -- A negative recognition (a void reversing revenue) swaps the sides.
        (accounts.account = 'deferred_revenue') = (recognition.amount > 0) as is_debit
    from revenue
    cross join (values ('deferred_revenue'), ('usage_revenue')) as accounts (account)
    cross join lateral (select recognized as amount) as recognition
    where recognized <> 0
    union all
    select
        parts.source_type || ':' || customer_id || ':' || period || ':' || currency,
        {{ parse_timestamp('period', '%Y-%m') }} + interval 1 month, period, customer_id, currency,
        accounts.account, abs(parts.amount), parts.source_type, customer_id || ':' || period,
        (accounts.account = 'deferred_revenue') = (parts.amount > 0)
    from breakage_parts as parts
    cross join (values ('deferred_revenue'), ('breakage_revenue')) as accounts (account)
    where parts.amount <> 0
),

postings as (
    select * from invoice_postings
    union all
    select * from revenue_postings
)

select
    journal_id,
    posted_at,
    period,
    customer_id,
    account,
    cast(case when is_debit then amount else 0 end as bigint) as debit,
    cast(case when is_debit then 0 else amount end as bigint) as credit,
    currency,
    source_type,
    source_id
from postings
where amount <> 0
