-- The catalog's bundle_prices, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_bundle_prices') }}
)

select * from source
