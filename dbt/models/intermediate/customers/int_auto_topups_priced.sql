-- Each auto top-up setting with the bundle it buys, priced in the customer's currency, and
-- the bundle's scope, which each top-up grant carries (contract §8.1).
with

customers as (
    select customer_id, billing_currency from {{ ref('int_customers_validated') }} where is_current
)

select
    topups.customer_id,
    topups.threshold_credits,
    topups.bundle_id,
    topups.max_per_period,
    topups.enabled_from,
    topups.enabled_to,
    cast((bundles.credits + bundles.bonus_credits) as {{ credits_type() }}) as bundle_credits,
    bundles.expires_after_days,
    bundles.priority,
    bundles.applies_to,
    customers.billing_currency as currency,
    prices.price_amount,
    case
        when prices.price_amount is null or prices.price_amount = 0 then cast(0 as decimal(38, 12))
        else {{ cost_basis_per_credit('prices.price_amount', 'bundles.credits + bundles.bonus_credits') }}
    end as cost_basis_per_credit
from {{ ref('int_auto_topups_validated') }} as topups
inner join {{ ref('stg_catalog__bundles') }} as bundles on topups.bundle_id = bundles.bundle_id
inner join customers on topups.customer_id = customers.customer_id
left join {{ ref('stg_catalog__bundle_prices') }} as prices
    on topups.bundle_id = prices.bundle_id and customers.billing_currency = prices.currency
where topups.is_current
