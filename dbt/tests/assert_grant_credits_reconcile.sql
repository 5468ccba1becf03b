-- Per grant: consumed + expired + refunded + rolled over + remaining = granted, each >= 0.
select *
from {{ ref('fct_grants') }}
where
    credits > 0
    and (
        credits_consumed + credits_expired + credits_refunded + credits_rolled_over + credits_remaining <> credits
        or credits_consumed < 0 or credits_expired < 0 or credits_refunded < 0
        or credits_rolled_over < 0 or credits_remaining < 0
    )
