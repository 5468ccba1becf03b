-- Every rejected input row, kept whole with its file and line (contract §2.1, §6.1): events and
-- every reference feed, each with the reason its validation model gave (fct_event_quarantine
-- publishes them). The events' rows come with their text from int_events_quarantined.
-- A view: fct_event_quarantine writes its rows once; a table here copied every quarantined
-- row's text a second time on each run.
{{ config(materialized='view') }}
{%- set validated = [
    ('events', 'int_events_quarantined'),
    ('customers', 'int_customers_validated'),
    ('subscriptions', 'int_subscriptions_validated'),
    ('purchases', 'int_purchases_validated'),
    ('grants', 'int_grants_feed_validated'),
    ('auto_topups', 'int_auto_topups_validated'),
    ('voids', 'int_voids_validated'),
    ('refunds', 'int_refunds_validated'),
    ('grant_amendments', 'int_grant_amendments_validated'),
] %}
{% for feed, model in validated %}
{% if not loop.first %}union all{% endif %}
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
