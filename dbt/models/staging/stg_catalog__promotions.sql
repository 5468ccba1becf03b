-- The catalog's promotions, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_promotions') }}
)

select * from source
