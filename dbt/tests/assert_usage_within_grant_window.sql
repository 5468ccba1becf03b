-- No draw on a grant outside its validity window: usage, repayments and adjustments happen
-- at or after effective_at and strictly before expires_at. One exception, by the
-- same-instant order (docs/ledger.md "Time and order"): a set_expiry that ends a grant at
-- its own instant t acts at rank 4, after the negative adjustments of t (rank 3), which may
-- still draw on the grant at t.
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
    and not (
        ledger.entry_type = 'adjustment'
        and ledger.entry_at = grants.expires_at
        and exists (
            select 1
            from {{ ref('fct_grant_amendments') }} as amendments
            where
                amendments.grant_id = ledger.grant_id
                and amendments.verdict = 'applied'
                and amendments.action = 'set_expiry'
                and amendments.effective_at = ledger.entry_at
                and amendments.grant_expires_at = ledger.entry_at
        )
    )
