-- The deferred-revenue roll-forward finance books (contract §6.1), per customer, period and
-- currency: opening + purchased - recognized usage - breakage - refunded = closing.
-- Amounts are integer minor units. Refunded is the money returned on credit notes, for
-- refunds and for voided grants (contract §8.3).
select
    customer_id,
    period,
    currency,
    cast(sum(opening_deferred_amount) as bigint) as opening_deferred,
    cast(sum(purchased_amount) as bigint) as purchased,
    cast(sum(recognized_amount) as bigint) as recognized_usage,
    cast(sum(breakage_amount) as bigint) as recognized_breakage,
    cast(sum(refunded_amount + voided_amount) as bigint) as refunded,
    cast(sum(closing_deferred_amount) as bigint) as closing_deferred
from {{ ref('int_revenue_by_grant_period') }}
group by customer_id, period, currency
