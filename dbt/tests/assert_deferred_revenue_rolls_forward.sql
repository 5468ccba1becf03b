-- The roll-forward holds per customer and period, and each period opens where the last closed.
with

rows_ as (
    select
        *,
        lag(closing_deferred) over (partition by customer_id, currency order by period) as previous_closing
    from {{ ref('fct_deferred_revenue') }}
)

select *
from rows_
where
    opening_deferred + purchased - recognized_usage - recognized_breakage - refunded <> closing_deferred
    or (previous_closing is not null and previous_closing <> opening_deferred)
