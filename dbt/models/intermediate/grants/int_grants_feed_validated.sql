-- Rows of the `grants` feed checked against contract §2.2: known customer, known kind, and
-- negative credits only for adjustments; and its optional `applies_to` (contract §8.1),
-- written as catalog.applies_to_text writes a scope: the ids sorted, once each, joined by
-- `|` ('' = every aggregator), each an aggregator or a credit product of the catalog. A
-- later row for the same grant_id replaces it.
with

grants as (
    select
        *,
        {{ sorted_text_items("coalesce(applies_to_text, '')", '|') }} as applies_to_ids
    from {{ ref('stg_landing__grants') }}
),

scope_ids as (
    -- What an applies_to may name: an aggregator or a credit product.
    select {{ unordered_list('scope_id') }} as known_ids
    from (
        select aggregator_id as scope_id from {{ ref('stg_catalog__aggregators') }}
        union
        select credit_product_id from {{ ref('stg_catalog__rates') }}
    ) as ids
),

customers as (
    select customer_id from {{ ref('int_customers_validated') }} where is_current
),

checked as (
    select
        {{ star_except('grants', ['applies_to_ids']) }},
        {{ list_text('grants.applies_to_ids', '|') }} as applies_to,
        case
            when is_unreadable_file then 'unreadable_file'
            when not is_object then 'malformed'
            when grant_id is null or customer_id is null or kind is null or credits_text is null
                or effective_at_text is null
                then 'missing_field'
            when effective_at is null or (expires_at_text is not null and expires_at is null)
                then 'bad_timestamp'
            when kind not in ('promotional', 'compensation', 'referral', 'starting_balance', 'adjustment')
                then 'invalid_value'
            when credits is null or (credits < 0 and kind <> 'adjustment') or credits = 0 then 'invalid_value'
            when expires_at is not null and expires_at <= effective_at then 'invalid_value'
            when cost_basis_per_credit is null or cost_basis_per_credit < 0 then 'invalid_value'
            when not {{ list_has_all('scope_ids.known_ids', 'grants.applies_to_ids') }} then 'invalid_value'
            when customer_id not in (select customer_id from customers) then 'unknown_customer'
        end as quarantine_reason
    from grants
    cross join scope_ids
),

versioned as (
    select
        *,
        quarantine_reason is null and row_number() over (
            partition by grant_id, quarantine_reason is null
            order by batch_seq desc, source_file desc, line_number desc
        ) = 1 as is_current
    from checked
)

select * from versioned
