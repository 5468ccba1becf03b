-- Consumption of credits that earn no revenue (promotional and other zero-cost grants),
-- reported at list value (SPEC §5). List value per credit is the dearest price per credit of
-- any bundle in the grant's currency: the price a customer pays without a volume discount.
with

list_price as (
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
        order by cast(price_amount as hugeint) * cast(1000000 as hugeint) * 1000000
            // cast(bundle_credits * 1000000 as hugeint) desc, price_amount desc
    ) = 1
),

consumed as (
    select
        ledger.customer_id,
        ledger.period,
        grants.kind,
        grants.currency,
        -sum(ledger.credits) as credits
    from {{ ref('int_ledger_entries_ordered') }} as ledger
    inner join {{ ref('int_grants_all') }} as grants on ledger.grant_id = grants.grant_id
    where
        ledger.entry_type in {{ drawn_entry_types() }}
        and coalesce(grants.paid_amount, 0) = 0
        and grants.cost_basis_per_credit = 0
    group by ledger.customer_id, ledger.period, grants.kind, grants.currency
)

select
    consumed.customer_id,
    consumed.period,
    consumed.kind,
    consumed.currency,
    cast(consumed.credits as {{ credits_type() }}) as credits_consumed,
    cast({{ money_share('list_price.price_amount', 'consumed.credits', 'list_price.bundle_credits') }} as bigint)
        as list_value
from consumed
left join list_price on consumed.currency = list_price.currency
