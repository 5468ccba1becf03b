-- Usage per customer, period, aggregator and dimension values (SPEC §6.1).
select
    customer_id,
    period,
    aggregator_id,
    dimensions,
    count(*) as events,
    cast(sum(units) as {{ units_type() }}) as units,
    cast(sum(credits) as {{ credits_type() }}) as credits
from {{ ref('int_events_rated') }}
group by customer_id, period, aggregator_id, dimensions
