-- The catalog's plans, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_plans') }}
)

select * from source
