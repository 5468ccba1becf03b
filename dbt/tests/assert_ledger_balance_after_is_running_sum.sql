-- balance_after is the running sum of credits in entry order, per customer.
select *
from (
    select
        entry_id,
        balance_after,
        sum(credits) over (partition by customer_id order by entry_seq) as running
    from {{ ref('fct_credit_ledger') }}
)
where balance_after <> running
