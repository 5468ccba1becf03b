-- The dimensions each aggregator reports usage by (catalog `dimensions`), in catalog order:
-- what int_events_matched_to_aggregators puts in each match's dimensions (which
-- int_events_rated carries) and what
-- fct_monthly_usage_by_dimension expands.
select
    aggregator_id,
    dimension_name,
    dimension_position
from {{ ref('stg_catalog__aggregator_dimensions') }}
