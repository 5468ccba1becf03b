{# Engine differences, written once each (docs/spark.md). Each macro dispatches on the
   adapter: `default__` is DuckDB, the embedded default, and its SQL is exactly what the
   models wrote before; `spark__` is the same result in Spark SQL (a local session or a
   cluster: dbt/profiles.yml target `spark`). JSON, instants and lists have files of their
   own: engine_json.sql, engine_time.sql, engine_lists.sql. #}

{# The materialization of a model kept up to date by delete+insert (an incremental model
   with a unique_key): incremental on DuckDB; a whole table on Spark, whose parquet tables
   cannot delete rows (Delta or Iceberg would take `merge`: docs/spark.md). #}
{% macro delete_insert_materialization() -%}
    {{ return(adapter.dispatch('delete_insert_materialization', 'credits')()) }}
{%- endmacro %}

{% macro default__delete_insert_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__delete_insert_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{# Every column of `alias` but `columns` (DuckDB `alias.* exclude (...)`). Spark reads a
   back-quoted name as a regular expression over the column names (the profile sets
   spark.sql.parser.quotedRegexColumnNames): every name but these. #}
{% macro star_except(alias, columns) -%}
    {{ return(adapter.dispatch('star_except', 'credits')(alias, columns)) }}
{%- endmacro %}

{% macro default__star_except(alias, columns) -%}
    {{ alias }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(alias, columns) -%}
    {{ alias }}.`(?!({{ columns | join('|') }})$).+`
{%- endmacro %}

{# dbt's cast() on Spark. The marts' and reports' enforced contracts declare DuckDB's type
   names, and dbt builds each contract's empty schema with cast(): Spark spells `varchar`
   (which it takes only with a length) and `json` as `string`; every other name the
   contracts use (bigint, integer, boolean, date, timestamp, decimal(p, s)) is the same. #}
{% macro spark__cast(field, type) -%}
    {%- set spark_names = {'varchar': 'string', 'json': 'string'} -%}
    cast({{ field }} as {{ spark_names.get(type | trim | lower, type) }})
{%- endmacro %}

{# A number as text with English digit grouping, the text an invoice line's description
   shows (DuckDB `format('{:,}', ...)`): `scale` 0 rounds to a whole number ('10,000');
   scale 3 rounds to 3 decimals and shows them as DuckDB formats a double: trailing zeros
   dropped but one ('1,234.5', '1,234.0'). Identical on both engines for values of at most
   15 significant digits (under 1e12 at scale 3); past that DuckDB's double rounds or
   switches to an exponent ('1e+16') and Spark keeps the exact digits. #}
{% macro thousands(value, scale) -%}
    {{ return(adapter.dispatch('thousands', 'credits')(value, scale)) }}
{%- endmacro %}

{% macro default__thousands(value, scale) -%}
    {%- if scale == 0 -%}
        format('{:,}', cast({{ value }} as bigint))
    {%- elif scale == 3 -%}
        format('{:,}', cast({{ value }} as decimal(38, 3)))
    {%- else -%}
        {{ exceptions.raise_compiler_error("thousands: scale 0 or 3, not " ~ scale) }}
    {%- endif -%}
{%- endmacro %}

{# Spark's cast to bigint truncates, DuckDB's rounds half away from zero: round() first.
   Decimal to decimal rounds half away from zero on both. #}
{% macro spark__thousands(value, scale) -%}
    {%- if scale == 0 -%}
        format_number(round({{ value }}, 0), 0)
    {%- elif scale == 3 -%}
        regexp_replace(regexp_replace(format_number(cast({{ value }} as decimal(38, 3)), 3), '0+$', ''), '[.]$', '.0')
    {%- else -%}
        {{ exceptions.raise_compiler_error("thousands: scale 0 or 3, not " ~ scale) }}
    {%- endif -%}
{%- endmacro %}

{# A window aggregate: the median of `value`, a decimal of scale `scale` (1 or more), over
   the named window `window`, as DuckDB's median gives it: the middle value, or for an even
   count lower + h, where h is the gap in units of the scale converted to a double, halved
   and truncated. Past 2^53 units (about 9,007 credits at scale 12) that double rounds, so
   DuckDB's median is then not the exact midpoint; Spark reproduces the same number. Of the
   value's type on DuckDB, decimal(38, scale) on Spark.
   Spark's median is a double and takes no window frame: the frame's values are collected
   and sorted. Its cast from double to decimal goes through the shortest decimal text, not
   the double's exact value, so h is taken apart at 2^32 into two exact integers. #}
{% macro window_median(value, window, scale) -%}
    {{ return(adapter.dispatch('window_median', 'credits')(value, window, scale)) }}
{%- endmacro %}

{% macro default__window_median(value, window, scale) -%}
    median({{ value }}) over {{ window }}
{%- endmacro %}

{% macro spark__window_median(value, window, scale) -%}
    {%- set lower -%}element_at(s, cast(size(s) / 2 as int)){%- endset -%}
    {%- set upper -%}element_at(s, cast(size(s) / 2 as int) + 1){%- endset -%}
    {%- set half -%}
        (cast(cast(({{ upper }} - {{ lower }}) * 1{{ '0' * scale }} as decimal(38, 0)) as double) * 0.5)
    {%- endset -%}
    {%- set high -%}floor({{ half }} / 4294967296){%- endset -%}
    cast(transform(
        array(array_sort(filter(collect_list({{ value }}) over {{ window }}, v -> v is not null))),
        s -> case
            when size(s) = 0 then null
            when size(s) % 2 = 1 then element_at(s, cast((size(s) + 1) / 2 as int))
            else {{ lower }} + (
                cast({{ high }} as decimal(38, 0)) * 4294967296
                + cast(floor({{ half }} - {{ high }} * 4294967296.0D) as decimal(38, 0))
            ) * cast(0.{{ '0' * (scale - 1) }}1 as decimal({{ scale + 1 }}, {{ scale }}))
        end
    )[0] as decimal(38, {{ scale }}))
{%- endmacro %}
