-- The list price of a credit per currency: the dearest price per credit of any bundle in that
-- currency, the price a customer pays without a volume discount (contract §5). Promotional
-- consumption is reported at it.
-- The same maximum, kept exact: compare price_a × credits_b with price_b × credits_a.
select currency, price_amount, bundle_credits
from (
    select
        prices.currency,
        prices.price_amount,
        bundles.credits + bundles.bonus_credits as bundle_credits
    from {{ ref('stg_catalog__bundle_prices') }} as prices
    inner join {{ ref('stg_catalog__bundles') }} as bundles on prices.bundle_id = bundles.bundle_id
) as candidates
qualify row_number() over (
    partition by currency
    order by {{ truncating_div(
        [big_integer('price_amount'), big_integer('1000000000000')], big_integer('bundle_credits * 1000000')
    ) }} desc, price_amount desc
) = 1
