-- The instants at which a customer's ledger can change other than by usage
-- (docs/ledger.md "Time and order"): grants taking effect or expiring, period ends, plan
-- changes, top-up settings switching, voids, refunds, grant amendments and the expiries
-- they set. Usage between two instants is summed into one segment, so the sequential walk
-- visits segments, not events.
with

grants as (
    select customer_id, effective_at, expires_at from {{ ref('int_grants_taking_effect') }}
    where not is_scheduled
),

amendments as (
    -- Those the walk applies; a set_expiry's grant expires at its new expiry, never before it.
    select customer_id, effective_at, greatest(new_expires_at, effective_at) as expires_at
    from {{ ref('int_grant_amendments_sequenced') }}
    where settled_outcome is null
),

subscriptions as (
    select customer_id, started_at, ended_at
    from {{ ref('int_subscriptions_validated') }}
    where is_current
),

topups as (
    select customer_id, enabled_from, enabled_to
    from {{ ref('int_auto_topups_validated') }}
    where is_current
),

voids as (
    select customer_id, voided_at from {{ ref('int_voids_validated') }} where quarantine_reason is null
),

refunds as (
    select customer_id, refunded_at from {{ ref('int_refunds_validated') }} where quarantine_reason is null
),

usage_months as (
    select customer_id, min({{ month_start('booked_at') }}) as first_month
    from {{ ref('int_events_rated') }}
    group by customer_id
),

customer_starts as (
    select customer_id, min(first_month) as first_month
    from (
        select customer_id, first_month from usage_months
        union all
        select customer_id, {{ month_start('effective_at') }} from grants
    ) as firsts
    group by customer_id
),

period_starts as (
    -- Every period end a customer lives through: settlement happens at each.
    select
        customer_starts.customer_id,
        period_start as instant_at,
        'period_end' as instant_kind
    from customer_starts
    cross join lateral (
        select {{ series_rows(
            'customer_starts.first_month + interval 1 month', as_of_at(), 'interval 1 month'
        ) }} as period_start
    ) as periods
),

instants as (
    select customer_id, effective_at as instant_at, 'grant' as instant_kind from grants
    union all
    select customer_id, expires_at, 'expiry' from grants where expires_at is not null
    union all
    select customer_id, instant_at, instant_kind from period_starts
    union all
    select customer_id, started_at, 'plan' from subscriptions
    union all
    select customer_id, ended_at, 'plan' from subscriptions where ended_at is not null
    union all
    select customer_id, enabled_from, 'topup_setting' from topups
    union all
    select customer_id, enabled_to, 'topup_setting' from topups where enabled_to is not null
    union all
    select customer_id, voided_at, 'void' from voids
    union all
    select customer_id, refunded_at, 'refund' from refunds
    union all
    select customer_id, effective_at, 'amendment' from amendments
    union all
    select customer_id, expires_at, 'amended_expiry' from amendments where expires_at is not null
)

select distinct customer_id, instant_at
from instants
where instant_at <= {{ as_of_at() }}
