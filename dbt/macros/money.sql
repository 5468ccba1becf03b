{# Money rules of contract §5, written once. Money is integer minor units; credits are
   decimal(38, 12). credits_warehouse/money.py mirrors these for Python callers; the tests
   hold the two to the same answers. #}

{# round_half_even(numer / denom) for integers of any sign, exactly (banker's rounding).
   DuckDB's `//` and `%` truncate toward zero, so the floor quotient is made explicitly:
   with the divisor made positive, q = floor(n / d) and r = n - q·d lies in [0, d). Then
   round up when 2r > d, or when 2r = d and q is odd. #}
{% macro round_half_even_div(numer, denom) -%}
    {%- set n -%}(case when ({{ denom }}) < 0 then -({{ numer }}) else ({{ numer }}) end){%- endset -%}
    {%- set d -%}abs({{ denom }}){%- endset -%}
    {%- set q -%}({{ n }} // {{ d }} - case when {{ n }} % {{ d }} < 0 then 1 else 0 end){%- endset -%}
    {%- set r -%}({{ n }} - {{ d }} * {{ q }}){%- endset -%}
    (
        {{ q }}
        + case
            when 2 * {{ r }} > {{ d }} then 1
            when 2 * {{ r }} = {{ d }} and {{ q }} % 2 <> 0 then 1
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
