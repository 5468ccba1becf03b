-- Accepted grant amendments in the order they apply to their grant, (effective_at,
-- amendment_id), with the outcome of those SQL settles before the ledger walk
-- (docs/ledger.md "Grant amendments"):
-- - a void dated at or before its grant's effective_at keeps the grant from ever taking
--   effect (`applied`), and every amendment of that grant after it changes nothing;
-- - a set_expiry dated before its grant takes effect gives it its new expiry from the start
--   (`applied`).
-- `settled_outcome` is null for the rest: the walk applies them. Only amendments dated by
-- the run's clock act; later ones wait (`pending` in int_grant_amendments_applied), also
-- those of a grant scheduled after the clock.
with

accepted as (
    select amendment_id, grant_id, customer_id, action, effective_at, new_expires_at, grant_effective_at
    from {{ ref('int_grant_amendments_validated') }}
    where quarantine_reason is null
),

sequenced as (
    select
        *,
        row_number() over (partition by grant_id order by effective_at, amendment_id) as amendment_seq,
        effective_at <= {{ as_of_at() }} and case
            when action = 'void' then effective_at <= grant_effective_at
            else effective_at < grant_effective_at
        end as is_before_effect
    from accepted
),

dropping as (
    -- A void before its grant takes effect comes before any void after it does.
    select
        *,
        min(case when action = 'void' and is_before_effect then amendment_seq end)
            over (partition by grant_id) as dropped_at_seq
    from sequenced
)

select
    amendment_id,
    grant_id,
    customer_id,
    action,
    effective_at,
    new_expires_at,
    grant_effective_at,
    amendment_seq,
    case
        when amendment_seq > dropped_at_seq then 'no_effect'
        when is_before_effect then 'applied'
    end as settled_outcome
from dropping
