-- The auditable credit ledger (contract §6.1): every movement of every customer's balance,
-- signed (+ adds to the balance), with the running balance in entry order.
-- Resumes after the last close (docs/incremental.md): the running balance goes on from the
-- customer's last earlier entry.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_resume_window('entry_at') }}"
) }}
with

entries as (
    select * from {{ ref('int_ledger_entries_ordered') }}
    where {{ in_resume_window('entry_at') }}
),

balance_before as (
    -- After the pre-hook, this table holds only the entries before the resume instant.
    {% if is_resuming() -%}
        select earlier.customer_id, earlier.balance_after
        from {{ this }} as earlier
        inner join (
            select customer_id, max(entry_seq) as entry_seq from {{ this }} group by customer_id
        ) as last_entries
            on earlier.customer_id = last_entries.customer_id and earlier.entry_seq = last_entries.entry_seq
    {%- else -%}
        select cast(null as string) as customer_id, cast(0 as {{ credits_type() }}) as balance_after where false
    {%- endif %}
)

select
    entries.customer_id || ':' || lpad(cast(entries.entry_number as string), 9, '0') as entry_id,
    entries.customer_id,
    entries.entry_number as entry_seq,
    entries.entry_at,
    entries.period,
    entries.entry_type,
    entries.grant_id,
    entries.aggregator_id,
    entries.usage_date,
    entries.credits,
    cast(coalesce(balance_before.balance_after, 0) + sum(entries.credits) over (
        partition by entries.customer_id order by entries.entry_number rows between unbounded preceding and current row
    ) as {{ credits_type() }}) as balance_after
from entries
left join balance_before on entries.customer_id = balance_before.customer_id
