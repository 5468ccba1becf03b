-- Invoice numbers given at finalization in earlier runs: they are never changed or reused.
with

source as (
    select * from {{ source('control', 'invoice_numbers') }}
)

select * from source
