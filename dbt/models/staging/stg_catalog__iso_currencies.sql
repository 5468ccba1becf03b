-- ISO 4217 currency codes (from babel), used to validate currencies in the feeds.
with

source as (
    select * from {{ source('catalog', 'iso_currencies') }}
)

select * from source
