{# Money rules of SPEC §5, written once. Money is integer minor units; credits are
   decimal(38, 12). dagster_project/money.py mirrors these for Python callers; the tests
   hold the two to the same answers. #}

{# round_half_even(numer / denom) for integers, exactly (banker's rounding). #}
{% macro round_half_even_div(numer, denom) -%}
    (
        (({{ numer }}) // ({{ denom }}))
        + case
            when 2 * (({{ numer }}) % ({{ denom }})) > ({{ denom }}) then 1
            when 2 * (({{ numer }}) % ({{ denom }})) = ({{ denom }})
                and (({{ numer }}) // ({{ denom }})) % 2 = 1 then 1
            else 0
        end
    )
{%- endmacro %}

{# An amount's share for some credits: round_half_even(amount × credits / total_credits),
   with credits scaled to integers so nothing passes through a double. #}
{% macro money_share(amount_minor, credits, total_credits) -%}
    cast({{ round_half_even_div(
        "cast(" ~ amount_minor ~ " as hugeint) * cast((" ~ credits ~ ") * 1000000000000 as hugeint)",
        "cast((" ~ total_credits ~ ") * 1000000000000 as hugeint)"
    ) }} as bigint)
{%- endmacro %}
