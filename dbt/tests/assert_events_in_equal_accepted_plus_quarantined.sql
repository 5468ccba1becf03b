-- Every landed event row is either accepted or quarantined, never lost nor both.
-- Reads several models; Dagster shows it as a check on fct_event_quarantine.
{{ config(meta={'dagster': {'ref': {'name': 'fct_event_quarantine'}}}) }}
with

landed as (select count(*) as n from {{ source('landing', 'events') }}),

accepted as (select count(*) as n from {{ ref('int_events_validated') }} where quarantine_reason is null),

quarantined as (select count(*) as n from {{ ref('fct_event_quarantine') }} where feed = 'events')

select landed.n as landed, accepted.n as accepted, quarantined.n as quarantined
from landed, accepted, quarantined
where landed.n <> accepted.n + quarantined.n
