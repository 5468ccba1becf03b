-- The catalog's bundles, as written by the catalog asset from the validated YAML.
with

source as (
    select * from {{ source('catalog', 'catalog_bundles') }}
)

select * from source
