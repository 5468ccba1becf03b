-- Each period opens where the last one closed, per customer and currency: a check across
-- rows. The roll-forward within a row (opening + purchased - recognized - breakage -
-- refunded = closing) is a rule on one row, pandera's DeferredRevenue.deferred_rolls_forward
-- (docs/checks.md says where each invariant lives).
with
rows_ as (
    select
        *,
        lag(closing_deferred) over (partition by customer_id, currency order by period) as previous_closing
    from {{ ref('fct_deferred_revenue') }}
)

select *
from rows_
where previous_closing is not null and previous_closing <> opening_deferred
