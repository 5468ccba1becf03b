-- Days before an expiry at which a credits_expiring alert fires (catalog `alerts:`).
with

source as (
    select * from {{ source('catalog', 'catalog_alert_expiring_days') }}
)

select * from source
