-- The catalog's rates, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_rates') }}
)

select * from source
