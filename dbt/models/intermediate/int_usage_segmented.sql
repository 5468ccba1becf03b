-- Rated usage summed between the instants where a customer's ledger can change, so the
-- sequential ledger walks segments, not events (DEVELOPERS.md non-negotiable 5). A segment is
-- one customer × aggregator × UTC day, split where a grant takes effect or expires that day.
-- The instants are found with a running max over one ordered timeline (portable SQL).
with

as_of as (
    select cast('{{ var("as_of") }}' as timestamp) as as_of_at
),

rated as (
    select customer_id, aggregator_id, event_at, credits
    from {{ ref('int_events_rated') }}
    where event_at <= (select as_of_at from as_of)
),

grants as (
    select customer_id, effective_at, expires_at from {{ ref('int_grants_unioned') }}
),

change_instants as (
    select customer_id, effective_at as instant_at from grants
    union
    select customer_id, expires_at as instant_at from grants where expires_at is not null
),

timeline as (
    select customer_id, instant_at as timeline_at, 0 as is_usage, null as aggregator_id, null as credits
    from change_instants
    union all
    select customer_id, event_at as timeline_at, 1 as is_usage, aggregator_id, credits
    from rated
),

marked as (
    select
        *,
        -- A change at the same instant as usage applies first (SPEC §4 "Same instant").
        max(case when is_usage = 0 then timeline_at end) over (
            partition by customer_id order by timeline_at, is_usage
            rows between unbounded preceding and current row
        ) as segment_start_at
    from timeline
),

subscriptions as (
    select customer_id, plan_id, started_at, ended_at
    from {{ ref('int_subscriptions_validated') }}
    where is_current
),

segments as (
    select
        customer_id,
        aggregator_id,
        cast(timeline_at as date) as usage_date,
        segment_start_at,
        min(timeline_at) as first_event_at,
        max(timeline_at) as last_event_at,
        count(*) as events,
        cast(sum(credits) as {{ credits_type() }}) as credits
    from marked
    where is_usage = 1
    group by customer_id, aggregator_id, cast(timeline_at as date), segment_start_at
),

final as (
    select
        segments.*,
        -- Shortfall is overage only under a plan with `overage: bill` (SPEC §4 "Shortfall").
        case when plans.overage = 'bill' then 'overage' else 'unfunded' end as shortfall_entry_type
    from segments
    left join subscriptions
        on
            segments.customer_id = subscriptions.customer_id
            and segments.first_event_at >= subscriptions.started_at
            and (subscriptions.ended_at is null or segments.first_event_at < subscriptions.ended_at)
    left join {{ ref('stg_catalog__plans') }} as plans on subscriptions.plan_id = plans.plan_id
    qualify row_number() over (
        partition by segments.customer_id, segments.aggregator_id, segments.usage_date, segments.segment_start_at
        order by subscriptions.started_at desc nulls last
    ) = 1
)

select * from final
