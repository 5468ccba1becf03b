-- The plans' user limits (contract §8.4), as written by the catalog asset from the validated
-- YAML: a user's credits in a month past monthly_credits raise a user_limit alert.
with

source as (
    select * from {{ source('catalog', 'catalog_plan_user_limits') }}
)

select * from source
