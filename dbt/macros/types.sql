{# One place for the exact types of the product. credits_warehouse/catalog.py holds the same
   scales (UNIT_SCALE, RATE_SCALE, CREDIT_SCALE); tests/unit/test_catalog.py asserts they agree. #}

{% macro units_type() %}decimal(38, 6){% endmacro %}
{% macro rate_type() %}decimal(38, 6){% endmacro %}
{# units (6 digits) × rate (6 digits) is exact at 12 digits, so credits never need division. #}
{% macro credits_type() %}decimal(38, 12){% endmacro %}
{# The most units one event may carry (a quadrillion): its credits, and the sums of many
   such events, then stay far inside credits_type(). Beyond it: quantity_out_of_range. #}
{% macro max_event_units() %}1000000000000000{% endmacro %}

{# A UTC instant from RFC 3339 text: an offset is honoured, a naive value is UTC
   (the profile pins the session TimeZone to UTC). Null when it does not parse. #}
{% macro parse_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'credits')(expr)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(expr) -%}
    (try_cast({{ expr }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{# Spark: read as a zoned instant (the session time zone, UTC, for naive text), then kept
   naive in UTC like DuckDB's `timestamp`. #}
{% macro spark__parse_utc_timestamp(expr) -%}
    cast(try_cast({{ expr }} as timestamp_ltz) as timestamp_ntz)
{%- endmacro %}

{# The billing period of an instant: calendar months in UTC, named YYYY-MM (contract §4). #}
{% macro period_of(ts) -%}
    {{ format_timestamp(ts, '%Y-%m') }}
{%- endmacro %}

{# The first instant of a period named YYYY-MM. #}
{% macro period_start_of(period) -%}
    {{ parse_timestamp(period, '%Y-%m') }}
{%- endmacro %}

{# The cost basis of a paid grant, amount_minor / credits, rounded half up to 12 digits, exactly:
   DuckDB divides decimals in double precision, so this divides scaled integers instead.
   It orders consumption (contract §4); revenue (contract §5) uses the exact ratio itself. #}
{% macro cost_basis_per_credit(amount_minor, credits) -%}
    {{ return(adapter.dispatch('cost_basis_per_credit', 'credits')(amount_minor, credits)) }}
{%- endmacro %}

{# DuckDB: (2·amount·1e24 + c) // (2·c) with c the scaled credits, i.e. truncate(x + 1/2)
   for x = amount·1e24 / c. Past 8.5e13 minor units the hugeint product overflows and
   DuckDB raises. #}
{% macro default__cost_basis_per_credit(amount_minor, credits) -%}
    (
        (
            ({{ big_integer('(' ~ amount_minor ~ ')') }} * cast(1000000000000000000000000 as hugeint) * 2
                + {{ scaled_credits('(' ~ credits ~ ')') }})
            // (2 * {{ scaled_credits('(' ~ credits ~ ')') }})
        )::decimal(38, 0) * cast(0.000000000001 as decimal(13, 12))
    )
{%- endmacro %}

{# Spark: the same truncate(x + 1/2), from floor(|x|) = q and its remainder r over d
   (spark_product_division, money.sql): q + 1 when 2r >= d for x >= 0; for x < 0,
   -(q - 1) when 2r < d and q >= 1, else -q. Written `0 - ...`: Spark's unary minus on a
   decimal rounds to 34 significant digits (docs/spark.md "Money on Spark"). #}
{% macro spark__cost_basis_per_credit(amount_minor, credits) -%}
    (
        cast({{ spark_product_division(
            '(' ~ amount_minor ~ ')',
            '1000000000000000000000000',
            scaled_credits('(' ~ credits ~ ')'),
            "case when x.negative"
            ~ " then 0 - (x.q - case when 2 * x.r < x.d and x.q >= 1 then 1 else 0 end)"
            ~ " else x.q + case when 2 * x.r >= x.d then 1 else 0 end end"
        ) }} as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12))
    )
{%- endmacro %}

{# An event's properties as text in key order, so the same content hashes the same however
   its keys were ordered when it landed (contract §2.1 "a hash of the canonical content"). #}
{% macro canonical_properties(expr) -%}
    {{ return(adapter.dispatch('canonical_properties', 'credits')(expr)) }}
{%- endmacro %}

{% macro default__canonical_properties(expr) -%}
    array_to_string(
        list_transform(list_sort(json_keys({{ expr }})), lambda k: to_json(k) || ':' || json_extract({{ expr }}, k)),
        ','
    )
{%- endmacro %}

{# Spark: the same text as DuckDB. Keys sorted and quoted by to_json; a string value quoted
   the same way; JSON null as null; any other value (number, boolean, object, array) as
   get_json_object writes it, which re-serialises numbers like DuckDB (2.50 -> 2.5,
   1e3 -> 1000.0) and keeps nested keys in their order. A variant would sort nested keys. #}
{% macro spark__canonical_properties(expr) -%}
    {%- set quoted = "substring(to_json(array(#)), 2, length(to_json(array(#))) - 2)" -%}
    array_join(
        transform(
            array_sort(map_keys(from_json({{ expr }}, 'map<string, variant>'))),
            k -> concat(
                {{ quoted | replace('#', 'k') }},
                ':',
                case schema_of_variant(from_json({{ expr }}, 'map<string, variant>')[k])
                    when 'STRING'
                        then {{ quoted | replace('#', "cast(from_json(" ~ expr ~ ", 'map<string, variant>')[k] as string)") }}
                    else coalesce(get_json_object({{ expr }}, concat('$.', k)), 'null')
                end
            )
        ),
        ','
    )
{%- endmacro %}
