-- What became of every accepted grant amendment as of the clock (contract §8.3,
-- docs/ledger.md "Grant amendments"): `applied`; `no_effect` (its grant was already voided,
-- refunded or expired, or never took effect); or `pending` (dated after the clock). With
-- the expiry an applied set_expiry gave its grant, and for an applied void the credits it
-- took and when they leave: the void's instant, or the grant's effective_at for a grant
-- voided before it took effect.
with

walked as (
    select amendment_id, amendment_outcome, expires_at
    from {{ ref('int_ledger_walked') }}
    where row_kind = 'amendment'
),

grant_voids as (
    -- A grant is voided at most once: its one grant_void entry.
    select grant_id, -sum(credits) as credits
    from {{ ref('int_ledger_entries_ordered') }}
    where entry_type = 'grant_void'
    group by grant_id
),

outcomes as (
    select
        sequenced.*,
        walked.expires_at as walked_expires_at,
        case
            when sequenced.effective_at > {{ as_of_at() }} then 'pending'
            else coalesce(sequenced.settled_outcome, walked.amendment_outcome)
        end as outcome
    from {{ ref('int_grant_amendments_sequenced') }} as sequenced
    left join walked on sequenced.amendment_id = walked.amendment_id
)

select
    outcomes.amendment_id,
    outcomes.grant_id,
    outcomes.customer_id,
    outcomes.action,
    outcomes.effective_at,
    outcomes.new_expires_at,
    outcomes.amendment_seq,
    outcomes.outcome,
    case
        when outcomes.outcome = 'applied' and outcomes.action = 'set_expiry'
            then coalesce(outcomes.walked_expires_at, outcomes.new_expires_at)
    end as expires_at,
    case
        when outcomes.outcome = 'applied' and outcomes.action = 'void'
            then greatest(outcomes.effective_at, outcomes.grant_effective_at)
    end as voided_credits_at,
    cast(case
        when outcomes.outcome <> 'applied' or outcomes.action <> 'void' then null
        when outcomes.settled_outcome = 'applied' then grants.credits
        else coalesce(grant_voids.credits, 0)
    end as {{ credits_type() }}) as credits_voided
from outcomes
left join {{ ref('int_grants_all') }} as grants on outcomes.grant_id = grants.grant_id
left join grant_voids on outcomes.grant_id = grant_voids.grant_id
