-- One row per grant (contract §6.1) with what became of its credits:
-- consumed + expired + refunded + rolled over + remaining = credits.
with

grants as (
    select * from {{ ref('int_grants_all') }}
    union all
    -- Negative adjustments keep a row (with nothing consumed) so every feed grant_id is here.
    select
        grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
        cost_basis_per_credit, currency, paid_amount, source_type, source_id
    from {{ ref('int_grants_unioned') }}
    where credits < 0
),

movements as (
    select
        grant_id,
        -sum(case when entry_type in {{ drawn_entry_types() }} then credits else 0 end)
            as credits_consumed,
        -sum(case when entry_type = 'expiry' then credits else 0 end) as credits_expired,
        -sum(case when entry_type = 'refund' then credits else 0 end) as credits_refunded,
        -sum(case when entry_type = 'rollover' then credits else 0 end) as credits_rolled_over
    from {{ ref('fct_credit_ledger') }}
    where grant_id is not null
    group by grant_id
)

select
    grants.*,
    cast(coalesce(movements.credits_consumed, 0) as {{ credits_type() }}) as credits_consumed,
    cast(coalesce(movements.credits_expired, 0) as {{ credits_type() }}) as credits_expired,
    cast(coalesce(movements.credits_refunded, 0) as {{ credits_type() }}) as credits_refunded,
    cast(coalesce(movements.credits_rolled_over, 0) as {{ credits_type() }}) as credits_rolled_over,
    cast(
        case
            when grants.credits > 0
                then grants.credits
                    - coalesce(movements.credits_consumed, 0) - coalesce(movements.credits_expired, 0)
                    - coalesce(movements.credits_refunded, 0) - coalesce(movements.credits_rolled_over, 0)
            else 0
        end as {{ credits_type() }}
    ) as credits_remaining
from grants
left join movements on grants.grant_id = movements.grant_id
