-- Every quarantined event row with its whole text, its file and line, and its reason
-- (int_events_validated), as int_rows_quarantined publishes it with the other feeds' rows.
-- Events carry no payload past staging, so the text comes from stg_landing__event_payloads
-- by row id.
--
-- Incremental (docs/incremental.md): a run reads back the text of the rows judged
-- quarantined since this table last took any (`verdict_seq`), and the pre-hook first drops
-- the rows judged accepted since (a future event whose clock came, a customer that
-- arrived). Reading the text of every quarantined row on every run cost 2 s of a day's run
-- at 10M events: those rows lie all over raw.events.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='delete+insert',
    unique_key='event_row_id',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where event_row_id in (select event_row_id from {{ ref('int_events_validated') }} where quarantine_reason is null and verdict_seq > (select coalesce(max(verdict_seq), 0) from {{ this }})){% endif %}"
) }}
with

judged as (
    select event_row_id, quarantine_reason, verdict_seq
    from {{ ref('int_events_validated') }}
    where
        quarantine_reason is not null
        {% if is_incremental() -%}
            and verdict_seq > (select coalesce(max(verdict_seq), 0) from {{ this }})
        {%- endif %}
)

select
    judged.event_row_id,
    landed.source_file,
    landed.line_number,
    landed.raw_payload,
    judged.quarantine_reason,
    landed.ingested_at,
    landed.load_batch_id,
    judged.verdict_seq
from (
    select *
    from {{ ref('stg_landing__event_payloads') }}
    where event_row_id in (select event_row_id from judged)
) as landed
inner join judged on landed.event_row_id = judged.event_row_id
