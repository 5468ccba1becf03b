-- Revenue of every paid grant, period by period (contract §5), with cumulative rounding:
-- each to-date figure is rounded (half even) from exact credits, and a period takes the
-- difference. The to-date buckets are cut from one running total, in the order consumed,
-- refunded, voided (a grant amendment, contract §8.3: money returned like a refund's),
-- expired, so that for every grant at every period end, exactly:
--     amount_paid = recognized + refunded + voided + breakage + still deferred.
-- A rollover grant continues the allowance it came from: its credits are that allowance's.
-- Breakage follows the catalog's settings.breakage_policy (docs/ledger.md "Breakage"):
-- `at_expiry` books what expires when it expires; `proportional` books an estimate as credits
-- are consumed, at the rate past cohorts broke, and trues it up, so that at the end of a
-- grant's life breakage is exactly what `at_expiry` books. Columns breakage_estimate_* and
-- breakage_true_up_* split breakage_* (estimate + true-up = breakage).
with

breakage_policy as (
    select coalesce(max(value), 'at_expiry') as policy
    from {{ ref('stg_catalog__settings') }}
    where setting = 'breakage_policy'
),

grants as (
    select * from {{ ref('int_grants_all') }}
),

revenue_grants as (
    select
        grant_id as revenue_grant_id,
        customer_id,
        kind,
        currency,
        credits as total_credits,
        effective_at,
        expires_at,
        coalesce(
            paid_amount,
            cast({{ round_half_even_div(
                [scaled_credits('cost_basis_per_credit'), scaled_credits('credits')],
                big_integer('1000000000000000000000000')
            ) }} as bigint)
        ) as amount_paid
    from grants
    where kind <> 'rollover'
),

grant_map as (
    select grant_id, case when kind = 'rollover' then source_id else grant_id end as revenue_grant_id
    from grants
),

ledger_movements as (
    select
        grant_map.revenue_grant_id,
        ledger.period,
        -sum(case when ledger.entry_type in {{ drawn_entry_types() }} then ledger.credits else 0 end)
            as consumed_credits,
        -sum(case when ledger.entry_type = 'refund' then ledger.credits else 0 end) as refunded_credits,
        0 as voided_credits,
        -sum(case when ledger.entry_type = 'expiry' then ledger.credits else 0 end) as expired_credits
    from {{ ref('int_ledger_entries_ordered') }} as ledger
    inner join grant_map on ledger.grant_id = grant_map.grant_id
    group by grant_map.revenue_grant_id, ledger.period
),

void_movements as (
    -- The credits a void took (its grant_void entry, or all of a grant voided before it took
    -- effect), in the period they left.
    select
        grant_map.revenue_grant_id,
        {{ period_of('voids.voided_credits_at') }} as period,
        0 as consumed_credits,
        0 as refunded_credits,
        voids.credits_voided as voided_credits,
        0 as expired_credits
    from {{ ref('int_grant_amendments_applied') }} as voids
    inner join grant_map on voids.grant_id = grant_map.grant_id
    where voids.action = 'void' and voids.outcome = 'applied'
),

movements as (
    select
        revenue_grant_id,
        period,
        sum(consumed_credits) as consumed_credits,
        sum(refunded_credits) as refunded_credits,
        sum(voided_credits) as voided_credits,
        sum(expired_credits) as expired_credits
    from (
        select * from ledger_movements
        union all
        select * from void_movements
    ) as moved
    group by revenue_grant_id, period
),

periods as (
    select distinct {{ period_of('period_start') }} as period
    from (
        select {{ series_rows(
            "(select " ~ month_start('min(effective_at)') ~ " from revenue_grants)",
            as_of_at(),
            "interval 1 month"
        ) }} as period_start
    ) as months
),

grant_periods as (
    select revenue_grants.*, periods.period
    from revenue_grants
    inner join periods on periods.period >= {{ period_of('revenue_grants.effective_at') }}
    where revenue_grants.amount_paid > 0
),

cumulative as (
    select
        grant_periods.*,
        sum(coalesce(movements.consumed_credits, 0)) over to_date as consumed_to_date,
        sum(coalesce(movements.consumed_credits, 0) + coalesce(movements.refunded_credits, 0)) over to_date
            as consumed_refunded_to_date,
        sum(
            coalesce(movements.consumed_credits, 0) + coalesce(movements.refunded_credits, 0)
            + coalesce(movements.voided_credits, 0)
        ) over to_date as consumed_refunded_voided_to_date,
        sum(coalesce(movements.expired_credits, 0)) over to_date as expired_to_date,
        sum(
            coalesce(movements.consumed_credits, 0) + coalesce(movements.refunded_credits, 0)
            + coalesce(movements.voided_credits, 0) + coalesce(movements.expired_credits, 0)
        ) over to_date as settled_to_date
    from grant_periods
    left join movements
        on grant_periods.revenue_grant_id = movements.revenue_grant_id and grant_periods.period = movements.period
    window to_date as (partition by grant_periods.revenue_grant_id order by grant_periods.period)
),

to_date as (
    select
        *,
        {{ money_share('amount_paid', 'consumed_to_date', 'total_credits') }} as recognized_to_date,
        {{ money_share('amount_paid', 'consumed_refunded_to_date', 'total_credits') }}
            - {{ money_share('amount_paid', 'consumed_to_date', 'total_credits') }} as refunded_to_date,
        {{ money_share('amount_paid', 'consumed_refunded_voided_to_date', 'total_credits') }}
            - {{ money_share('amount_paid', 'consumed_refunded_to_date', 'total_credits') }} as voided_to_date,
        {{ money_share('amount_paid', 'settled_to_date', 'total_credits') }}
            - {{ money_share('amount_paid', 'consumed_refunded_voided_to_date', 'total_credits') }}
            as expired_amount_to_date,
        -- What is neither consumed, refunded nor voided: breakage or still deferred.
        amount_paid - {{ money_share('amount_paid', 'consumed_refunded_voided_to_date', 'total_credits') }}
            as unused_amount_to_date
    from cumulative
),

cohorts as (
    -- The expired cohorts a grant taking effect in period P is estimated from: per currency
    -- and kind, the paid grants whose life ended before P, i.e. they expire at or before P's
    -- start and every credit of theirs was consumed, refunded, voided or expired by the end
    -- of P - 1, with what they had consumed and let expire by then. Their breakage rate is
    -- expired / (consumed + expired).
    select
        currency,
        kind,
        {{ period_of(period_start_of('period') ~ " + interval 1 month") }} as estimating_period,
        sum(consumed_to_date) as cohort_consumed_credits,
        sum(expired_to_date) as cohort_expired_credits
    from to_date
    where
        expires_at <= {{ period_start_of('period') }} + interval 1 month
        and settled_to_date = total_credits
    group by currency, kind, period
),

estimated as (
    -- Under `proportional`, a grant with an expiry takes the rate of its currency's and kind's
    -- cohorts as of the period it takes effect in, for life. The estimate to date is
    -- recognized × rate / (1 - rate) = recognized × cohort expired / cohort consumed, rounded
    -- half even; at rate 1 (the cohorts consumed nothing) it is everything unused.
    select
        to_date.*,
        case
            when coalesce(cohorts.cohort_expired_credits, 0) = 0 or to_date.recognized_to_date = 0 then 0
            when cohorts.cohort_consumed_credits = 0 then to_date.unused_amount_to_date
            else cast({{ round_half_even_div(
                [big_integer('to_date.recognized_to_date'), scaled_credits('cohorts.cohort_expired_credits')],
                scaled_credits('cohorts.cohort_consumed_credits')
            ) }} as bigint)
        end as breakage_estimate_to_date
    from to_date
    left join cohorts
        on
            to_date.currency = cohorts.currency
            and to_date.kind = cohorts.kind
            and cohorts.estimating_period = {{ period_of('to_date.effective_at') }}
            and to_date.expires_at is not null
            and (select policy from breakage_policy) = 'proportional'
),

recognized as (
    -- Breakage to date: what expired, once the grant's life is over; before, at least what
    -- expired and at most what is unused, the estimate in between. The true-up is the rest.
    select
        *,
        case
            when settled_to_date = total_credits then expired_amount_to_date
            else greatest(least(breakage_estimate_to_date, unused_amount_to_date), expired_amount_to_date)
        end as breakage_to_date
    from estimated
)

select
    revenue_grant_id as grant_id,
    customer_id,
    kind,
    currency,
    period,
    amount_paid,
    total_credits,
    consumed_to_date,
    recognized_to_date,
    refunded_to_date,
    voided_to_date,
    breakage_to_date,
    breakage_estimate_to_date,
    breakage_to_date - breakage_estimate_to_date as breakage_true_up_to_date,
    unused_amount_to_date - breakage_to_date as deferred_to_date,
    case when period = {{ period_of('effective_at') }} then amount_paid else 0 end as purchased_amount,
    recognized_to_date - coalesce(lag(recognized_to_date) over by_period, 0) as recognized_amount,
    refunded_to_date - coalesce(lag(refunded_to_date) over by_period, 0) as refunded_amount,
    voided_to_date - coalesce(lag(voided_to_date) over by_period, 0) as voided_amount,
    breakage_to_date - coalesce(lag(breakage_to_date) over by_period, 0) as breakage_amount,
    breakage_estimate_to_date - coalesce(lag(breakage_estimate_to_date) over by_period, 0)
        as breakage_estimate_amount,
    (breakage_to_date - breakage_estimate_to_date)
    - coalesce(lag(breakage_to_date - breakage_estimate_to_date) over by_period, 0) as breakage_true_up_amount,
    coalesce(lag(unused_amount_to_date - breakage_to_date) over by_period, 0) as opening_deferred_amount,
    unused_amount_to_date - breakage_to_date as closing_deferred_amount
from recognized
window by_period as (partition by revenue_grant_id order by period)
