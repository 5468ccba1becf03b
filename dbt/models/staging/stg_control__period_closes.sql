-- Closes recorded by `credits close`: every period up to the latest is closed.
with

source as (
    select * from {{ source('control', 'period_closes') }}
)

select period, closed_at from source
