-- Per grant: consumed + expired + remaining = granted, and each part is >= 0.
select *
from {{ ref('fct_grants') }}
where
    credits > 0
    and (
        credits_consumed + credits_expired + credits_remaining <> credits
        or credits_consumed < 0 or credits_expired < 0 or credits_remaining < 0
    )
