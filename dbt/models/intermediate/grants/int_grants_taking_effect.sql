-- The grants as the ledger walk takes them (docs/ledger.md "Grant amendments"): every grant
-- and negative adjustment of int_grants_unioned, less those a void dated at or before their
-- effective_at keeps from ever taking effect, and with the expiry a set_expiry dated before
-- they take effect gave them (the last such, in amendment order).
with

settled as (
    select
        grant_id,
        bool_or(action = 'void') as is_voided,
        arg_max(new_expires_at, amendment_seq) filter (where action = 'set_expiry') as expires_at
    from {{ ref('int_grant_amendments_sequenced') }}
    where settled_outcome = 'applied'
    group by grant_id
)

select grants.* replace (coalesce(settled.expires_at, grants.expires_at) as expires_at)
from {{ ref('int_grants_unioned') }} as grants
left join settled on grants.grant_id = settled.grant_id
where not coalesce(settled.is_voided, false)
