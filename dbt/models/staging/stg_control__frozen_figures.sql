-- A closed period's figures as recorded when it closed.
with

source as (
    select * from {{ source('control', 'frozen_figures') }}
)

select period, customer_id, figure, value, frozen_at from source
