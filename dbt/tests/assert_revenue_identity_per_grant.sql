-- For every paid grant at every period end (SPEC §5), exactly:
-- amount_paid = recognized + breakage + refunded + still deferred, and none is negative.
select *
from {{ ref('int_revenue_by_grant_period') }}
where
    recognized_to_date + breakage_to_date + refunded_to_date + deferred_to_date <> amount_paid
    or recognized_to_date < 0 or breakage_to_date < 0 or refunded_to_date < 0 or deferred_to_date < 0
