-- The quarantined event rows kept with their text (int_events_quarantined, built
-- incrementally) are exactly the rows int_events_validated quarantines now, each with the
-- reason it gives now: none missing, none left over from an earlier verdict.
{{ config(meta={'dagster': {'ref': {'name': 'int_events_quarantined'}}}) }}
with

verdicts as (
    select event_row_id, quarantine_reason
    from {{ ref('int_events_validated') }}
    where quarantine_reason is not null
),

kept as (
    select event_row_id, quarantine_reason from {{ ref('int_events_quarantined') }}
)

select
    coalesce(verdicts.event_row_id, kept.event_row_id) as event_row_id,
    verdicts.quarantine_reason as verdict,
    kept.quarantine_reason as kept
from verdicts
full outer join kept on verdicts.event_row_id = kept.event_row_id
where verdicts.quarantine_reason is distinct from kept.quarantine_reason
