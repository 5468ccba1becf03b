-- The grants as the ledger walk takes them (docs/ledger.md "Grant amendments"): every grant
-- and negative adjustment of int_grants_unioned, less those a void dated at or before their
-- effective_at keeps from ever taking effect, and with the expiry a set_expiry dated before
-- they take effect gave them (the last such, in amendment order).
with

settled as (
    select
        grant_id,
        bool_or(action = 'void') as is_voided,
        max_by(new_expires_at, amendment_seq) filter (where action = 'set_expiry') as expires_at
    from {{ ref('int_grant_amendments_sequenced') }}
    where settled_outcome = 'applied'
    group by grant_id
)

select
    grants.grant_id,
    grants.customer_id,
    grants.kind,
    grants.credits,
    grants.effective_at,
    coalesce(settled.expires_at, grants.expires_at) as expires_at,
    grants.priority,
    grants.cost_basis_per_credit,
    grants.currency,
    grants.paid_amount,
    grants.source_type,
    grants.source_id,
    grants.applies_to,
    grants.is_scheduled
from {{ ref('int_grants_unioned') }} as grants
left join settled on grants.grant_id = settled.grant_id
where not coalesce(settled.is_voided, false)
