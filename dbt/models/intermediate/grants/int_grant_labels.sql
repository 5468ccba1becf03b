-- Each grant's label as a customer reads it on a statement, instead of its generated id
-- (`subscription:pro:cus_00004:2026-03-01T00:00:00` reads "Plan pro allowance").
with

grants as (
    select grant_id, kind, source_type, source_id from {{ ref('int_grants_all') }}
    union all
    -- what int_grants_all leaves out: negative adjustments and scheduled grants
    select grant_id, kind, source_type, source_id from {{ ref('int_grants_unioned') }}
    where credits < 0 or is_scheduled
),

purchases as (
    select purchase_id, bundle_id from {{ ref('int_purchases_validated') }} where is_current
),

feed as (
    select grant_id, nullif(trim(reason), '') as reason
    from {{ ref('int_grants_feed_validated') }}
    where is_current and quarantine_reason is null
)

select
    grants.grant_id,
    case
        when grants.kind = 'plan_allowance' then 'Plan ' || grants.source_id || ' allowance'
        when grants.kind = 'rollover' then 'Rollover of unused allowance'
        when grants.kind = 'auto_topup' then 'Automatic top-up'
        when grants.kind = 'purchase'
            then coalesce('Credit bundle ' || purchases.bundle_id, 'Credit purchase ' || grants.source_id)
        else
            upper(left(replace(grants.kind, '_', ' '), 1)) || substr(replace(grants.kind, '_', ' '), 2)
            || coalesce(': ' || feed.reason, ' ' || grants.grant_id)
    end as grant_label
from grants
left join purchases on grants.kind = 'purchase' and grants.source_id = purchases.purchase_id
left join feed on grants.source_type = 'grants_feed' and grants.grant_id = feed.grant_id
