-- The catalog's plans, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('raw', 'catalog_plans') }}
)

select * from source
