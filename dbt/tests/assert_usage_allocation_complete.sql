-- Every debit is covered exactly once: its shares of grants and shortfalls add up to it.
-- Reads several models; Dagster shows it as a check on int_usage_allocated_to_grants.
-- A resumed build judges the debits from its resume point on: both models keep every row
-- before it as the build that wrote (and checked) it left it, and a debit's shares are
-- booked when it is (docs/incremental.md).
{{ config(meta={'dagster': {'ref': {'name': 'int_usage_allocated_to_grants'}}}) }}
{%- set resuming = run_var('resume_from') != '' %}
with

shares as (
    select customer_id, dedup_key, aggregator_id, sum(credits) as allocated
    from {{ ref('int_usage_allocated_to_grants') }}
    where {{ 'booked_at >= ' ~ resume_from() if resuming else 'true' }}
    group by customer_id, dedup_key, aggregator_id
)

select debits.customer_id, debits.dedup_key, debits.aggregator_id, debits.credits, shares.allocated
from {{ ref('int_usage_positioned') }} as debits
left join shares
    on
        debits.customer_id = shares.customer_id
        and debits.dedup_key = shares.dedup_key
        and debits.aggregator_id = shares.aggregator_id
where {{ 'debits.booked_at >= ' ~ resume_from() if resuming else 'true' }} and debits.credits > 0 and shares.allocated is distinct from debits.credits
