{# Money rules of contract §5, written once. Money is integer minor units; credits are
   decimal(38, 12). credits_warehouse/money.py mirrors these for Python callers; the tests
   hold the two to the same answers.

   Integer maths past 64 bits: DuckDB has `hugeint` (128-bit, to 1.7e38); Spark has no
   wider integer than bigint, so its bodies below use decimal(38, 0) (to 1e38) and never
   form a product that could pass 38 digits (docs/spark.md "Money on Spark"). #}

{# An integer as the engine's wide integer: DuckDB hugeint, Spark decimal(38, 0). #}
{% macro big_integer(expr) -%}
    {{ return(adapter.dispatch('big_integer', 'credits')(expr)) }}
{%- endmacro %}

{% macro default__big_integer(expr) -%}
    cast({{ expr }} as hugeint)
{%- endmacro %}

{% macro spark__big_integer(expr) -%}
    cast({{ expr }} as decimal(38, 0))
{%- endmacro %}

{# Credits (scale 12 or less) as an integer count of 1e-12 credits, so exact maths on
   credits never passes through a double. Defined for |credits| < 1e14: DuckDB multiplies
   decimal(38, 12) by 1e12 at scale 12 and raises past it, so every scaled value the
   project forms is below 1e26. Spark's product overflows at the same point and would be
   null (ANSI off); it raises instead, as DuckDB does. #}
{% macro scaled_credits(credits) -%}
    {{ return(adapter.dispatch('scaled_credits', 'credits')(credits)) }}
{%- endmacro %}

{% macro default__scaled_credits(credits) -%}
    cast({{ credits }} * 1000000000000 as hugeint)
{%- endmacro %}

{% macro spark__scaled_credits(credits) -%}
    case
        when ({{ credits }}) is null then null
        else coalesce(
            cast(({{ credits }}) * 1000000000000 as decimal(38, 0)),
            raise_error('scaled_credits: credits of 1e14 or more')
        )
    end
{%- endmacro %}

{# round_half_even(numer / denom) for integers of any sign, exactly (banker's rounding).
   `numer` is an integer expression, or a list of two (a product: [a, b] is a × b).
   DuckDB's `//` and `%` truncate toward zero, so the floor quotient is made explicitly:
   with the divisor made positive, q = floor(n / d) and r = n - q·d lies in [0, d). Then
   round up when 2r > d, or when 2r = d and q is odd. #}
{% macro round_half_even_div(numer, denom) -%}
    {{ return(adapter.dispatch('round_half_even_div', 'credits')(numer, denom)) }}
{%- endmacro %}

{% macro default__round_half_even_div(numer, denom) -%}
    {%- set numer = numer if numer is string else numer | join(' * ') -%}
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

{# Spark: |a|·|b| = q·d + r by spark_product_division; rounding half even is symmetric in
   sign, so the rounded |a·b / d| takes the sign of a·b / d. #}
{% macro spark__round_half_even_div(numer, denom) -%}
    {%- set factors = ['1', numer] if numer is string else numer -%}
    {{ spark_product_division(factors[0], factors[1], denom,
        "(case when x.negative then -1 else 1 end) * (x.q + case"
        ~ " when 2 * x.r > x.d then 1 when 2 * x.r = x.d and x.q % 2 <> 0 then 1 else 0 end)") }}
{%- endmacro %}

{# truncate(numer / denom), DuckDB's `//` on integers: [a, b] / d for a product. #}
{% macro truncating_div(numer, denom) -%}
    {{ return(adapter.dispatch('truncating_div', 'credits')(numer, denom)) }}
{%- endmacro %}

{% macro default__truncating_div(numer, denom) -%}
    {{ numer if numer is string else numer | join(' * ') }} // {{ denom }}
{%- endmacro %}

{% macro spark__truncating_div(numer, denom) -%}
    {%- set factors = ['1', numer] if numer is string else numer -%}
    {{ spark_product_division(factors[0], factors[1], denom, "(case when x.negative then -1 else 1 end) * x.q") }}
{%- endmacro %}

{# Spark only: a × b divided by d, exactly, in decimal(38, 0) without forming a × b.
   With a, b, d their absolute values: a = qa·d + m (m < d), so a·b = qa·b·d + m·b, and
   m·b = q'·d + r is long division over the decimal digits of b, most significant first:
   each step s = 10·r + m·digit < 19·d, and s div d <= 18. `finish` is an expression of
   x.q = qa·b + q' (the floor of |a·b / d|), x.r (its remainder, in [0, d)), x.d and
   x.negative (a·b / d < 0).
   Exact when d < 5e36, |a| / d < 1e20 (the division that gives qa) and the quotient
   fits 38 digits; otherwise null, never a wrong number. The project's divisors are below
   2e26 and every first factor is money (bigint), a count, or credits / 1e24 (scaled credits
   are below 1e26): docs/spark.md "Money on Spark". Null if d is 0 (DuckDB raises). #}
{% macro spark_product_division(factor_a, factor_b, divisor, finish) -%}
    {%- set step -%}(x.r * 10 + x.m * cast(digit as int)){%- endset -%}
    transform(
        array(named_struct(
            'a', abs(cast({{ factor_a }} as decimal(38, 0))),
            'b', abs(cast({{ factor_b }} as decimal(38, 0))),
            'd', abs(cast({{ divisor }} as decimal(38, 0))),
            'negative', ({{ factor_a }} < 0) <> ({{ factor_b }} < 0) <> ({{ divisor }} < 0)
        )),
        v -> aggregate(
            split(cast(v.b as string), ''),
            named_struct(
                'q', cast(0 as decimal(38, 0)),
                'r', cast(0 as decimal(38, 0)),
                'm', cast(v.a % v.d as decimal(38, 0)),
                'qab', cast(cast((v.a - v.a % v.d) / v.d as decimal(38, 0)) * v.b as decimal(38, 0)),
                'd', v.d,
                'negative', v.negative
            ),
            (x, digit) -> named_struct(
                'q', cast(x.q * 10 + {{ step }} div x.d as decimal(38, 0)),
                'r', cast({{ step }} % x.d as decimal(38, 0)),
                'm', x.m,
                'qab', x.qab,
                'd', x.d,
                'negative', x.negative
            ),
            x -> {{ finish | replace('x.q', '(x.qab + x.q)') }}
        )
    )[0]
{%- endmacro %}

{# An amount's share for some credits: round_half_even(amount × credits / total_credits),
   with credits scaled to integers so nothing passes through a double. #}
{% macro money_share(amount_minor, credits, total_credits) -%}
    cast({{ round_half_even_div(
        [big_integer(amount_minor), scaled_credits("(" ~ credits ~ ")")],
        scaled_credits("(" ~ total_credits ~ ")")
    ) }} as bigint)
{%- endmacro %}
