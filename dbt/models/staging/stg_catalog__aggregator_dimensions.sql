-- The catalog's aggregator_dimensions, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_aggregator_dimensions') }}
)

select * from source
