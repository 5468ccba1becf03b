-- The catalog's plan_prices, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_plan_prices') }}
)

select * from source
