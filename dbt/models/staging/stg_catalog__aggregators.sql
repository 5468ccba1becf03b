-- The catalog's aggregators, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('raw', 'catalog_aggregators') }}
)

select * from source
