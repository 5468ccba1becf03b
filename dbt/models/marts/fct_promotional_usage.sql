-- Consumption of credits that earn no revenue (promotional and other zero-cost grants),
-- reported at list value (contract §5), the list price of int_list_prices.
with

list_price as (
    select * from {{ ref('int_list_prices') }}
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
