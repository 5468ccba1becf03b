-- Every grant amendment that landed, with who made it and why: the audit trail of
-- contract §8.3. `verdict` says what became of it: applied, no_effect or pending
-- (int_grant_amendments_applied), or the reason it was quarantined (the row is in
-- fct_event_quarantine too).
with

landed as (
    select * from {{ ref('int_grant_amendments_validated') }}
),

applied as (
    select * from {{ ref('int_grant_amendments_applied') }}
)

select
    landed.amendment_id,
    landed.grant_id,
    landed.customer_id,
    landed.action,
    landed.effective_at,
    landed.new_expires_at,
    landed.reason,
    landed.created_by,
    coalesce(landed.quarantine_reason, applied.outcome) as verdict,
    applied.expires_at as grant_expires_at,
    applied.credits_voided,
    landed.source_file,
    landed.line_number,
    landed.ingested_at,
    landed.load_batch_id
from landed
left join applied on landed.amendment_id = applied.amendment_id and landed.quarantine_reason is null
