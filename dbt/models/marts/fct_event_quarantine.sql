-- One row per rejected input row, kept whole with its file and line (contract §2.1, §6.1), with
-- its reason; int_rows_quarantined gathers them from every feed's validation.
select
    feed,
    source_file,
    line_number,
    raw_payload,
    reason,
    ingested_at,
    load_batch_id
from {{ ref('int_rows_quarantined') }}
