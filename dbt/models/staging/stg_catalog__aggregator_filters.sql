-- The catalog's aggregator_filters, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_aggregator_filters') }}
)

select * from source
