-- Invoices with their totals and status. An invoice is final once its period is closed
-- (contract §4); final invoices keep the number they were given, and newly final ones get the
-- next numbers of their series and year in issued_at order, gap-free (contract §6.2).
with

lines as (
    select * from {{ ref('int_invoice_lines_drafted') }}
),

customers as (
    select customer_id, coalesce(tax_rate, 0) as tax_rate
    from {{ ref('int_customers_validated') }}
    where is_current
),

closed as (
    select max(period) as closed_through, max(closed_at) as last_closed_at
    from {{ ref('stg_control__period_closes') }}
),

invoices as (
    select
        lines.invoice_id,
        lines.customer_id,
        lines.invoice_type,
        lines.period,
        lines.issued_at,
        lines.currency,
        customers.tax_rate,
        cast(sum(lines.amount) as bigint) as subtotal
    from lines
    inner join customers on lines.customer_id = customers.customer_id
    group by all
),

taxed as (
    select
        invoices.*,
        -- Tax is round_half_even(subtotal × tax_rate), once per invoice (contract §5).
        cast({{ round_half_even_div(
            [big_integer('subtotal'), big_integer('tax_rate * 1000000')], big_integer('1000000')
        ) }} as bigint) as tax,
        case when invoices.period <= closed.closed_through then 'finalized' else 'draft' end as status,
        case when invoice_type = 'credit_note' then 'CN' else 'INV' end as series,
        year(issued_at) as series_year
    from invoices
    cross join closed
),

given as (
    select * from {{ ref('stg_control__invoice_numbers') }}
),

last_given as (
    select series, series_year, max(series_seq) as last_seq
    from given
    group by series, series_year
),

new_numbers as (
    select
        taxed.invoice_id,
        taxed.series,
        taxed.series_year,
        coalesce(last_given.last_seq, 0) + row_number() over (
            partition by taxed.series, taxed.series_year order by taxed.issued_at, taxed.invoice_id
        ) as series_seq
    from taxed
    left join last_given on taxed.series = last_given.series and taxed.series_year = last_given.series_year
    where taxed.status = 'finalized' and taxed.invoice_id not in (select invoice_id from given)
),

numbers as (
    select invoice_id, invoice_number, series_seq, false as is_new from given
    union all
    select
        invoice_id,
        series || '-' || series_year || '-' || lpad(cast(series_seq as string), 6, '0'),
        series_seq,
        true
    from new_numbers
)

select
    taxed.*,
    taxed.subtotal + taxed.tax as total,
    -- Payment is due the seller's payment terms (catalog seller.payment_terms_days) after issue.
    taxed.issued_at + {{ days_interval(
        "(select cast(value as integer) from " ~ ref('stg_catalog__settings') ~ " where setting = 'payment_terms_days')"
    ) }} as due_at,
    numbers.invoice_number,
    numbers.series_seq,
    coalesce(numbers.is_new, false) as is_newly_numbered
from taxed
left join numbers on taxed.invoice_id = numbers.invoice_id
