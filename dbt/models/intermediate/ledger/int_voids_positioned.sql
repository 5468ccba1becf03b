-- Each valid void with the segment spans its event's debits occupied (in their class's
-- running total), so the walk can give each grant back exactly what it gave.
select
    voids.event_id,
    voids.customer_id,
    voids.voided_at,
    debits.aggregator_id,
    debits.segment_start_at,
    debits.eligibility_class,
    debits.position_before,
    debits.position_after
from {{ ref('int_voids_validated') }} as voids
inner join {{ ref('int_usage_positioned') }} as debits
    on voids.event_id = debits.event_id and voids.customer_id = debits.customer_id
where voids.quarantine_reason is null
