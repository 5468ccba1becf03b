-- One row per grant (SPEC §6.1) with what became of its credits: consumed, expired, remaining.
with

grants as (
    select * from {{ ref('int_grants_unioned') }}
),

movements as (
    select
        grant_id,
        -sum(case when entry_type in ('usage', 'adjustment') then credits else 0 end) as credits_consumed,
        -sum(case when entry_type = 'expiry' then credits else 0 end) as credits_expired
    from {{ ref('int_ledger_entries_computed') }}
    where grant_id is not null
    group by grant_id
)

select
    grants.grant_id,
    grants.customer_id,
    grants.kind,
    grants.credits,
    grants.effective_at,
    grants.expires_at,
    grants.priority,
    grants.cost_basis_per_credit,
    grants.currency,
    grants.paid_amount,
    grants.source_type,
    grants.source_id,
    cast(coalesce(movements.credits_consumed, 0) as {{ credits_type() }}) as credits_consumed,
    cast(coalesce(movements.credits_expired, 0) as {{ credits_type() }}) as credits_expired,
    cast(
        case when grants.credits > 0
            then grants.credits - coalesce(movements.credits_consumed, 0) - coalesce(movements.credits_expired, 0)
            else 0
        end as {{ credits_type() }}
    ) as credits_remaining
from grants
left join movements on grants.grant_id = movements.grant_id
