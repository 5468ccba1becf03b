-- The catalog's promotions, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('raw', 'catalog_promotions') }}
)

select * from source
