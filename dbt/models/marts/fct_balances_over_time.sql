-- Each customer's balance at any instant, from the ledger alone (no walk): one row per
-- instant at which the balance changed, holding from that instant (included) until the next
-- change (excluded; null for the last). The balance at t is the row with
-- valid_from <= t < valid_to, and 0 before the customer's first entry. It is the ledger's
-- balance: every entry at t counts at t, and a usage entry (one per aggregator, grant and
-- day) counts from its day's last debit, so the figure is exact between entries and at each
-- day's end (docs/ledger.md "The balance at any instant").
{{ config(materialized='view') }}
with

instants as (
    -- The balance after the last entry of each instant, in entry order.
    select
        customer_id,
        entry_at as valid_from,
        max_by(balance_after, entry_seq) as balance
    from {{ ref('fct_credit_ledger') }}
    group by customer_id, entry_at
)

select
    customer_id,
    valid_from,
    lead(valid_from) over (partition by customer_id order by valid_from) as valid_to,
    cast(balance as {{ credits_type() }}) as balance
from instants
