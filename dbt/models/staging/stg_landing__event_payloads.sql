-- Every landed event row as loaded, addressed by its row id (event_row_id is its rowid in
-- raw.events): where a quarantined event's whole text is read back from, since events carry
-- no payload past staging.
select
    rowid as event_row_id,
    source_file,
    line_number,
    raw_payload,
    ingested_at,
    load_batch_id
from {{ source('landing', 'events') }}
