{# Engine differences in instants and intervals: formats, parsing, month starts, series of
   instants (docs/spark.md, "Dispatched macros"). As in engine.sql, `default__` is DuckDB
   and `spark__` Spark. #}

{# A timestamp as text by a strftime format (DuckDB's %-codes; Spark gets the same format in
   its own pattern letters). Only the codes below are known; another raises at compile. #}
{% macro format_timestamp(ts, format) -%}
    {{ return(adapter.dispatch('format_timestamp', 'credits')(ts, format)) }}
{%- endmacro %}

{% macro default__format_timestamp(ts, format) -%}
    strftime({{ ts }}, '{{ format }}')
{%- endmacro %}

{% macro spark__format_timestamp(ts, format) -%}
    {%- set codes = {'%Y': 'yyyy', '%m': 'MM', '%d': 'dd', '%H': 'HH', '%M': 'mm', '%S': 'ss', '%f': 'SSSSSS'} -%}
    {%- set pattern = namespace(text='', literal='') -%}
    {%- set parts = format.split('%') -%}
    {%- for part in parts -%}
        {%- if loop.first -%}
            {%- set text = part -%}
        {%- else -%}
            {%- set code = '%' ~ part[:1] -%}
            {%- if code not in codes -%}
                {{ exceptions.raise_compiler_error("format_timestamp: no Spark pattern for " ~ code) }}
            {%- endif -%}
            {%- set pattern.text = pattern.text ~ codes[code] -%}
            {%- set text = part[1:] -%}
        {%- endif -%}
        {%- if text -%}
            {%- set pattern.text = pattern.text ~ "''" ~ text ~ "''" -%}
        {%- endif -%}
    {%- endfor -%}
    date_format({{ ts }}, '{{ pattern.text }}')
{%- endmacro %}

{# A timestamp from text by a strftime format (DuckDB strptime); see format_timestamp. #}
{% macro parse_timestamp(text, format) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'credits')(text, format)) }}
{%- endmacro %}

{% macro default__parse_timestamp(text, format) -%}
    strptime({{ text }}, '{{ format }}')
{%- endmacro %}

{% macro spark__parse_timestamp(text, format) -%}
    {%- set codes = {'%Y-%m': 'yyyy-MM', '%Y-%m-%d': 'yyyy-MM-dd'} -%}
    {%- if format not in codes -%}
        {{ exceptions.raise_compiler_error("parse_timestamp: no Spark pattern for " ~ format) }}
    {%- endif -%}
    to_timestamp_ntz({{ text }}, '{{ codes[format] }}')
{%- endmacro %}

{# An interval of n hours (n an integer expression). #}
{% macro hours_interval(n) -%}
    {{ return(adapter.dispatch('hours_interval', 'credits')(n)) }}
{%- endmacro %}

{% macro default__hours_interval(n) -%}
    to_hours({{ n }})
{%- endmacro %}

{% macro spark__hours_interval(n) -%}
    make_interval(0, 0, 0, 0, {{ n }})
{%- endmacro %}

{# The start of a customer's first ledger segment (int_ledger_segments), before any instant. #}
{% macro epoch_timestamp() -%}
    cast('1970-01-01' as timestamp)
{%- endmacro %}

{# An instant later than any other, for open-ended comparisons: DuckDB's `infinity`; Spark
   has none (the text casts to null), so its last representable instant. #}
{% macro infinity_timestamp() -%}
    {{ return(adapter.dispatch('infinity_timestamp', 'credits')()) }}
{%- endmacro %}

{% macro default__infinity_timestamp() -%}
    cast('infinity' as timestamp)
{%- endmacro %}

{% macro spark__infinity_timestamp() -%}
    timestamp_ntz'9999-12-31 23:59:59.999999'
{%- endmacro %}

{# An interval of n days (n an integer expression). #}
{% macro days_interval(n) -%}
    {{ return(adapter.dispatch('days_interval', 'credits')(n)) }}
{%- endmacro %}

{% macro default__days_interval(n) -%}
    to_days({{ n }})
{%- endmacro %}

{% macro spark__days_interval(n) -%}
    make_interval(0, 0, 0, {{ n }})
{%- endmacro %}

{# Whole seconds from one timestamp to another, as DuckDB's date_diff('second', ...) counts
   them: the second boundaries crossed (floor(end) - floor(start) in epoch seconds). #}
{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between', 'credits')(start, end)) }}
{%- endmacro %}

{% macro default__seconds_between(start, end) -%}
    date_diff('second', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__seconds_between(start, end) -%}
    (unix_timestamp({{ end }}) - unix_timestamp({{ start }}))
{%- endmacro %}

{# The first instant of the calendar month of a timestamp. Spark's date_trunc returns a
   zoned timestamp; it is kept naive, as every timestamp of the project. #}
{% macro month_start(ts) -%}
    {{ return(adapter.dispatch('month_start', 'credits')(ts)) }}
{%- endmacro %}

{% macro default__month_start(ts) -%}
    date_trunc('month', {{ ts }})
{%- endmacro %}

{% macro spark__month_start(ts) -%}
    cast(date_trunc('month', {{ ts }}) as timestamp_ntz)
{%- endmacro %}

{# A set-returning select item: one row per value from `start` to `stop` by `step` (both
   ends included), for `cross join lateral (select {{ series_rows(...) }} as x) as alias`.
   Timestamps stay naive on Spark. #}
{% macro series_rows(start, stop, step) -%}
    {{ return(adapter.dispatch('series_rows', 'credits')(start, stop, step)) }}
{%- endmacro %}

{% macro default__series_rows(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}, {{ step }}))
{%- endmacro %}

{# sequence() raises when start > stop; explode(null) gives no row, as DuckDB does. #}
{% macro spark__series_rows(start, stop, step) -%}
    explode(case when {{ start }} <= {{ stop }} then sequence({{ start }}, {{ stop }}, {{ step }}) end)
{%- endmacro %}
