-- Every rejected input row, kept whole with its file and line (contract §2.1, §6.1): events and
-- every reference feed, each with the reason its validation model gave (fct_event_quarantine
-- publishes them). Events carry no payload past staging, so their quarantined rows take it
-- from stg_landing__event_payloads by row id.
{%- set validated = [
    ('customers', 'int_customers_validated'),
    ('subscriptions', 'int_subscriptions_validated'),
    ('purchases', 'int_purchases_validated'),
    ('grants', 'int_grants_feed_validated'),
    ('auto_topups', 'int_auto_topups_validated'),
    ('voids', 'int_voids_validated'),
    ('refunds', 'int_refunds_validated'),
    ('grant_amendments', 'int_grant_amendments_validated'),
] %}
with

quarantined_events as (
    select event_row_id, quarantine_reason
    from {{ ref('int_events_validated') }}
    where quarantine_reason is not null
)

select
    'events' as feed,
    landed.source_file,
    landed.line_number,
    landed.raw_payload,
    quarantined_events.quarantine_reason as reason,
    landed.ingested_at,
    landed.load_batch_id
from (
    select *
    from {{ ref('stg_landing__event_payloads') }}
    where event_row_id in (select event_row_id from quarantined_events)
) as landed
inner join quarantined_events on landed.event_row_id = quarantined_events.event_row_id
{% for feed, model in validated %}
union all
select
    '{{ feed }}' as feed,
    source_file,
    line_number,
    raw_payload,
    quarantine_reason as reason,
    ingested_at,
    load_batch_id
from {{ ref(model) }}
where quarantine_reason is not null
{% endfor %}
