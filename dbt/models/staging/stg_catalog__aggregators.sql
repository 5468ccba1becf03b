-- The catalog's aggregators, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_aggregators') }}
)

select * from source
