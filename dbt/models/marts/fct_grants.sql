-- One row per grant (contract §6.1, §8.2, §8.3) with what became of its credits:
-- consumed + expired + voided + refunded + rolled over + remaining = credits,
-- and its status as of the run's clock. expires_at is the grant's expiry as amendments left
-- it by the clock; voided_at, when a void amendment applied to it (at or before effective_at:
-- it never took effect, and all its credits count as voided).
with

grants as (
    select *, false as is_scheduled from {{ ref('int_grants_all') }}
    union all
    -- What int_grants_all leaves out: negative adjustments keep a row (with nothing
    -- consumed) so every feed grant_id is here, and grants scheduled after the clock are
    -- listed with the credits they will bring.
    select
        grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
        cost_basis_per_credit, currency, paid_amount, source_type, source_id, applies_to, is_scheduled
    from {{ ref('int_grants_unioned') }}
    where credits < 0 or is_scheduled
),

amended as (
    select
        grant_id,
        max_by(expires_at, amendment_seq) filter (where action = 'set_expiry') as expires_at,
        max(effective_at) filter (where action = 'void') as voided_at,
        sum(credits_voided) as credits_voided
    from {{ ref('int_grant_amendments_applied') }}
    where outcome = 'applied'
    group by grant_id
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
),

accounted as (
    select
        -- The grants' columns in their order (those the union above lists), expires_at as
        -- amendments left it.
        grants.grant_id,
        grants.customer_id,
        grants.kind,
        grants.credits,
        grants.effective_at,
        coalesce(amended.expires_at, grants.expires_at) as expires_at,
        grants.priority,
        grants.cost_basis_per_credit,
        grants.currency,
        grants.paid_amount,
        grants.source_type,
        grants.source_id,
        grants.applies_to,
        cast(coalesce(movements.credits_consumed, 0) as {{ credits_type() }}) as credits_consumed,
        cast(coalesce(movements.credits_expired, 0) as {{ credits_type() }}) as credits_expired,
        cast(coalesce(movements.credits_refunded, 0) as {{ credits_type() }}) as credits_refunded,
        cast(coalesce(movements.credits_rolled_over, 0) as {{ credits_type() }}) as credits_rolled_over,
        cast(coalesce(amended.credits_voided, 0) as {{ credits_type() }}) as credits_voided,
        -- A scheduled grant has no movement yet: what remains is all of it.
        cast(
            case
                when grants.credits > 0
                    then grants.credits
                        - coalesce(movements.credits_consumed, 0) - coalesce(movements.credits_expired, 0)
                        - coalesce(movements.credits_refunded, 0) - coalesce(movements.credits_rolled_over, 0)
                        - coalesce(amended.credits_voided, 0)
                else 0
            end as {{ credits_type() }}
        ) as credits_remaining,
        amended.voided_at,
        grants.is_scheduled
    from grants
    left join amended on grants.grant_id = amended.grant_id
    left join movements on grants.grant_id = movements.grant_id
)

select
    {{ star_except('accounted', ['is_scheduled']) }},
    -- The first that applies, in this order (contract §8.2); a grant voided before it takes
    -- effect never will, so it is voided rather than scheduled (docs/ledger.md).
    case
        when accounted.voided_at is not null then 'voided'
        when accounted.is_scheduled then 'scheduled'
        when accounted.expires_at <= {{ as_of_at() }} then 'expired'
        when accounted.credits_remaining <= 0 then 'depleted'
        else 'active'
    end as status
from accounted
