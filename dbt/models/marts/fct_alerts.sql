-- Customer notifications, one row per alert with a stable alert_id for the outbox. The rules
-- (low balance, depletion, expiring credits, unfunded usage, usage spikes, user limits) are
-- int_alerts_triggered's.
select
    alert_id,
    customer_id,
    alert_type,
    triggered_at,
    details
from {{ ref('int_alerts_triggered') }}
