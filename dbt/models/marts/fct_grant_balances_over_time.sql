-- Each grant's remaining credits at any instant, from the ledger alone (no walk): one row per
-- instant at which an entry moved the grant, holding from that instant (included) until the
-- next (excluded; null for the last). What a grant holds at t is the row with
-- valid_from <= t < valid_to; a grant has no row before it takes effect. The running sum of
-- the grant's entries (its grant entry, less what usage, repayments, adjustments, expiry,
-- refunds and rollover took, plus what voids gave back), so at the clock it is
-- fct_grants.credits_remaining (docs/ledger.md "The balance at any instant").
{{ config(materialized='view') }}
with

instants as (
    select
        grant_id,
        customer_id,
        entry_at as valid_from,
        sum(credits) as moved
    from {{ ref('fct_credit_ledger') }}
    where grant_id is not null
    group by grant_id, customer_id, entry_at
)

select
    grant_id,
    customer_id,
    valid_from,
    lead(valid_from) over by_grant as valid_to,
    -- One row per grant and instant, so the running sum up to the current row is exact.
    cast(sum(moved) over by_grant as {{ credits_type() }}) as credits_remaining
from instants
window by_grant as (partition by grant_id order by valid_from)
