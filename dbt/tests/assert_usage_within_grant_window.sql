-- No draw on a grant outside its validity window: usage, repayments and adjustments happen
-- at or after effective_at and strictly before expires_at.
-- Reads several models; Dagster shows it as a check on fct_credit_ledger.
{{ config(meta={'dagster': {'ref': {'name': 'fct_credit_ledger'}}}) }}
select ledger.entry_id, ledger.entry_at, grants.effective_at, grants.expires_at
from {{ ref('fct_credit_ledger') }} as ledger
inner join {{ ref('fct_grants') }} as grants on ledger.grant_id = grants.grant_id
where
    ledger.entry_type in ('usage', 'repayment', 'adjustment')
    and (
        ledger.entry_at < grants.effective_at
        or (grants.expires_at is not null and ledger.entry_at >= grants.expires_at)
    )
