-- Double-entry journals (contract §6.1), in minor units; every journal_id balances. The posting
-- rules (what posts when, to which account) are int_journal_postings'.
select
    journal_id,
    posted_at,
    period,
    customer_id,
    account,
    debit,
    credit,
    currency,
    source_type,
    source_id
from {{ ref('int_journal_postings') }}
