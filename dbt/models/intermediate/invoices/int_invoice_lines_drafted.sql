-- Every invoice line, whether or not its invoice is final yet (contract §4 "Subscription
-- invoices", §5): purchase and auto top-up invoices at purchase time, subscription invoices
-- (a period's overage in arrears and the next period's fee in advance, dated at the period's
-- end; a first or prorated fee when it starts), and credit notes for refunds and for voided
-- paid grants (contract §8.3).
with

purchases as (
    select purchases.*, bundles.credits + bundles.bonus_credits as bundle_credits
    from {{ ref('int_purchases_validated') }} as purchases
    inner join {{ ref('stg_catalog__bundles') }} as bundles on purchases.bundle_id = bundles.bundle_id
    where purchases.is_current and purchases.status in ('succeeded', 'refunded')
),

grants as (
    select * from {{ ref('int_grants_all') }}
),

customer_currency as (
    select customer_id, billing_currency as currency
    from {{ ref('int_customers_validated') }}
    where is_current
),

purchase_lines as (
    select
        'purchase:' || purchase_id as invoice_id,
        customer_id,
        'purchase' as invoice_type,
        purchased_at as issued_at,
        {{ period_of('purchased_at') }} as period,
        currency,
        1 as line_number,
        'Credit bundle ' || bundle_id || ' ({quantity} credits)' as description_template,
        cast(bundle_credits as decimal(38, 3)) as description_quantity,
        {{ thousands('bundle_credits', 0) }} as description_quantity_text,
        'credits' as line_kind,
        case when amount_paid % quantity = 0 then quantity else 1 end as quantity,
        case
            when amount_paid % quantity = 0 then cast({{ truncating_div('amount_paid', 'quantity') }} as bigint)
            else amount_paid
        end as unit_amount,
        amount_paid as amount
    from purchases
),

topup_lines as (
    select
        'auto_topup:' || source_id as invoice_id,
        customer_id,
        'purchase' as invoice_type,
        effective_at as issued_at,
        {{ period_of('effective_at') }} as period,
        currency,
        1 as line_number,
        'Auto top-up ({quantity} credits)' as description_template,
        cast(credits as decimal(38, 3)) as description_quantity,
        {{ thousands('credits', 0) }} as description_quantity_text,
        'credits' as line_kind,
        1 as quantity,
        coalesce(paid_amount, 0) as unit_amount,
        coalesce(paid_amount, 0) as amount
    from grants
    where kind = 'auto_topup'
),

fee_lines as (
    -- A plan's fee for a period, as its allowance grant carries it (prorated when the
    -- spell starts inside the period).
    select
        customer_id,
        effective_at as issued_at,
        currency,
        'Plan ' || source_id || ' fee, ' || {{ period_of('effective_at') }}
            || case when effective_at > {{ month_start('effective_at') }} then ' (prorated)' else '' end
            as description_template,
        cast(null as decimal(38, 3)) as description_quantity,
        cast(null as string) as description_quantity_text,
        'fee' as line_kind,
        paid_amount as amount
    from grants
    where kind = 'plan_allowance' and coalesce(paid_amount, 0) > 0
),

spells as (
    select * from {{ ref('int_plan_spells') }}
),

overage_lines as (
    -- Overage settled at a period's end, priced by the plan that billed it: the last spell
    -- inside the period whose plan says `overage: bill` (docs/ledger.md "Period end"). Only
    -- such a plan books overage, so one always exists, even when the customer has moved to
    -- a plan without overage (or without an overage price) by the period's end.
    select
        ledger.customer_id,
        ledger.entry_at as issued_at,
        prices.currency,
        'Overage, ' || ledger.period || ': {quantity} credits' as description_template,
        cast(ledger.credits as decimal(38, 3)) as description_quantity,
        {{ thousands('ledger.credits', 3) }} as description_quantity_text,
        'overage' as line_kind,
        cast({{ round_half_even_div(
            [scaled_credits('ledger.credits'), scaled_credits('prices.overage_price_per_credit')],
            big_integer('1000000000000000000000000')
        ) }} as bigint) as amount
    from {{ ref('int_ledger_entries_ordered') }} as ledger
    inner join customer_currency as customers on ledger.customer_id = customers.customer_id
    inner join spells
        on
            ledger.customer_id = spells.customer_id
            and spells.overage = 'bill'
            and spells.started_at < ledger.entry_at
            and (spells.ended_at is null or spells.ended_at > ledger.entry_at - interval 1 month)
    inner join {{ ref('stg_catalog__plan_prices') }} as prices
        on spells.plan_id = prices.plan_id and customers.currency = prices.currency
    where ledger.entry_type = 'overage_settlement'
    qualify row_number() over (partition by ledger.customer_id, ledger.entry_at order by spells.started_at desc) = 1
),

subscription_lines as (
    select
        'subscription:' || customer_id || ':' || {{ format_timestamp('issued_at', '%Y-%m-%dT%H:%M:%S') }} as invoice_id,
        customer_id,
        'subscription' as invoice_type,
        issued_at,
        -- Dated at a period's first instant, it closes the period before (contract §4).
        case
            when issued_at = {{ month_start('issued_at') }}
                then {{ period_of("issued_at - interval 1 microsecond") }}
            else {{ period_of('issued_at') }}
        end as period,
        currency,
        -- bigint on both engines (Spark's row_number() is an int).
        cast(row_number() over (
            partition by customer_id, issued_at order by line_kind desc, description_template asc
        ) as bigint) as line_number,
        description_template,
        description_quantity,
        description_quantity_text,
        line_kind,
        1 as quantity,
        amount as unit_amount,
        amount
    from (
        select * from fee_lines
        union all
        select * from overage_lines
    ) as lines
),

-- What a credit note gives back, one per refund and per void of a paid grant (contract §4
-- "Voids and refunds", §8.3): the money revenue counts as refunded, or as voided, in the
-- period the credits left.
money_returned as (
    select
        'credit_note:' || refund_id as invoice_id,
        customer_id,
        grant_id,
        refunded_at as returned_at,
        'Refund of purchase ' || purchase_id || ': unconsumed credits' as description_template,
        false as is_void
    from {{ ref('int_refunds_validated') }}
    where quarantine_reason is null
    union all
    select
        'credit_note:void:' || voids.amendment_id,
        voids.customer_id,
        voids.grant_id,
        voids.voided_credits_at,
        'Voided grant ' || voids.grant_id || ': unconsumed credits',
        true
    from {{ ref('int_grant_amendments_applied') }} as voids
    inner join grants on voids.grant_id = grants.grant_id
    where
        voids.action = 'void' and voids.outcome = 'applied' and voids.credits_voided > 0
        and coalesce(grants.paid_amount, 0) > 0
),

credit_note_lines as (
    select
        returned.invoice_id,
        returned.customer_id,
        'credit_note' as invoice_type,
        returned.returned_at as issued_at,
        {{ period_of('returned.returned_at') }} as period,
        revenue.currency,
        1 as line_number,
        returned.description_template,
        cast(null as decimal(38, 3)) as description_quantity,
        cast(null as string) as description_quantity_text,
        'refund' as line_kind,
        1 as quantity,
        case when returned.is_void then revenue.voided_amount else revenue.refunded_amount end as unit_amount,
        case when returned.is_void then revenue.voided_amount else revenue.refunded_amount end as amount
    from money_returned as returned
    inner join {{ ref('int_revenue_by_grant_period') }} as revenue
        on returned.grant_id = revenue.grant_id and {{ period_of('returned.returned_at') }} = revenue.period
),

lines as (
    select * from purchase_lines
    union all
    select * from topup_lines
    union all
    select * from subscription_lines
    union all
    select * from credit_note_lines
)

-- A line's words are written once, as a template with a `{quantity}` slot: filled here with
-- English digit grouping for fct_invoice_lines, and by the renderer in the customer's
-- locale (rpt_invoice_lines).
select
    invoice_id,
    customer_id,
    invoice_type,
    issued_at,
    period,
    currency,
    line_number,
    coalesce(replace(description_template, '{quantity}', description_quantity_text), description_template)
        as description,
    description_template,
    description_quantity,
    line_kind,
    quantity,
    unit_amount,
    amount
from lines
