-- Every grant in effect by the run's clock: those the inputs define and those the ledger
-- walk creates (auto top-ups, rollovers). Negative adjustments are not grants and are left
-- out, and so are grants scheduled after the clock (fct_grants adds both back).
select
    grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
    cost_basis_per_credit, currency, paid_amount, source_type, source_id, applies_to
from {{ ref('int_grants_unioned') }}
where credits > 0 and not is_scheduled
union all
select
    grant_id, customer_id, kind, credits, effective_at, expires_at, priority,
    cost_basis_per_credit, currency, paid_amount, source_type, source_id, applies_to
from {{ ref('int_ledger_walked') }}
where row_kind = 'grant'
