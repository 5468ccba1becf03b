-- The catalog's settings, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_settings') }}
)

select * from source
