-- A resumed build never recomputes the ledger before the instant it resumes from (docs/
-- incremental.md), so every accepted event booked before it must already be placed in the
-- ledger. One that is not was accepted after its period closed (say, an event of a customer
-- whose row arrived after the close): closed periods never change, and only a
-- `credits run --full-refresh` can show it, where the frozen figures are checked again.
{{ config(meta={'dagster': {'ref': {'name': 'int_usage_positioned'}}}) }}
{%- set rated_events = ref('int_events_rated') %}
{%- set positioned_debits = ref('int_usage_positioned') %}
{% if run_var('resume_from') %}
    with

    rated as (
        select customer_id, count(*) as debits
        from {{ rated_events }}
        where booked_at < {{ resume_from() }}
        group by customer_id
    ),

    positioned as (
        select customer_id, count(*) as debits
        from {{ positioned_debits }}
        where booked_at < {{ resume_from() }}
        group by customer_id
    )

    select coalesce(rated.customer_id, positioned.customer_id) as customer_id, rated.debits as rated, positioned.debits as placed
    from rated
    full outer join positioned on rated.customer_id = positioned.customer_id
    where rated.debits is distinct from positioned.debits
{% else %}
    select 1 as nothing where false
{% endif %}
