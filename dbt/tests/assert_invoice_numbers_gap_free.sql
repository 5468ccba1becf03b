-- Final invoices are numbered 1..n per series and year, with no gap and no repeat, and
-- drafts carry no number (contract §6.2).
with

numbered as (
    select series, series_year, series_seq, status, invoice_number
    from {{ ref('int_invoices_numbered') }}
),

per_series as (
    select series, series_year, count(*) as n, count(distinct series_seq) as distinct_seqs,
        min(series_seq) as first_seq, max(series_seq) as last_seq
    from numbered
    where status = 'finalized'
    group by series, series_year
)

select 'gap or repeat' as problem, series, series_year from per_series
where n <> distinct_seqs or first_seq <> 1 or last_seq <> n
union all
select 'draft with number', series, series_year from numbered
where status = 'draft' and invoice_number is not null
union all
select 'final without number', series, series_year from numbered
where status = 'finalized' and invoice_number is null
