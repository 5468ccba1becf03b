-- The deferred-revenue roll-forward finance books (contract §6.1), per customer, period and
-- currency: opening + purchased - recognized usage - breakage - refunded = closing.
-- Amounts are integer minor units. Refunded is the money returned on credit notes, for
-- refunds and for voided grants (contract §8.3). Breakage is split into its estimate (booked
-- as credits are consumed, under settings.breakage_policy proportional) and its true-up
-- (booked at expiry, and everything under at_expiry): recognized_breakage = breakage_estimate
-- + breakage_true_up (docs/ledger.md "Breakage").
select
    customer_id,
    period,
    currency,
    cast(sum(opening_deferred_amount) as bigint) as opening_deferred,
    cast(sum(purchased_amount) as bigint) as purchased,
    cast(sum(recognized_amount) as bigint) as recognized_usage,
    cast(sum(breakage_amount) as bigint) as recognized_breakage,
    cast(sum(refunded_amount + voided_amount) as bigint) as refunded,
    cast(sum(closing_deferred_amount) as bigint) as closing_deferred,
    cast(sum(breakage_estimate_amount) as bigint) as breakage_estimate,
    cast(sum(breakage_true_up_amount) as bigint) as breakage_true_up
from {{ ref('int_revenue_by_grant_period') }}
group by customer_id, period, currency
