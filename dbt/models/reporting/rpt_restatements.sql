-- One row per closed period and customer with usage in it: what `credits report
-- restatements PERIOD` writes. Usage as the close froze it, as the data now says with each
-- late event in the period it happened in, and the difference (docs/ledger.md
-- "Restatements"). A view, like int_usage_restated: the close freezes its figures after
-- the build that closes the period, and a view reads them from then on.
{{ config(materialized='view') }}
select
    restated.period,
    restated.customer_id,
    coalesce(customers.customer_name, restated.customer_id) as customer_name,
    restated.frozen_at,
    restated.events_at_close,
    restated.events_now,
    restated.events_delta,
    restated.usage_credits_at_close,
    restated.usage_credits_now,
    restated.usage_credits_delta,
    restated.late_events_booked_later,
    restated.late_credits_booked_later,
    restated.late_events_from_earlier,
    restated.late_credits_from_earlier
from {{ ref('int_usage_restated') }} as restated
left join {{ ref('dim_customers') }} as customers on restated.customer_id = customers.customer_id
