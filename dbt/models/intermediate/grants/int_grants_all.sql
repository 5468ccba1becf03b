-- Every grant: those the inputs define and those the ledger walk creates (auto top-ups,
-- rollovers). Negative adjustments are not grants and are left out.
select
    grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
    cost_basis_per_credit, currency, paid_amount, source_type, source_id
from {{ ref('int_grants_unioned') }}
where credits > 0
union all
select
    grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
    cost_basis_per_credit, currency, paid_amount, source_type, source_id
from {{ ref('int_ledger_walked') }}
where row_kind = 'grant'
