{# Engine differences, written once each (docs/spark.md). Each macro dispatches on the
   adapter: `default__` is DuckDB, the embedded default, and its SQL is exactly what the
   models wrote before; `spark__` is the same result in Spark SQL (a local session or a
   cluster: dbt/profiles.yml target `spark`). #}

{# Text as a JSON value the field macros below can read: DuckDB's JSON type; Spark keeps
   the text and parses it per field. #}
{% macro as_json(text) -%}
    {{ return(adapter.dispatch('as_json', 'credits')(text)) }}
{%- endmacro %}

{% macro default__as_json(text) -%}
    {{ text }}::json
{%- endmacro %}

{% macro spark__as_json(text) -%}
    {{ text }}
{%- endmacro %}

{# The empty JSON object, of the type as_json gives. #}
{% macro empty_json_object() -%}
    {{ return(adapter.dispatch('empty_json_object', 'credits')()) }}
{%- endmacro %}

{% macro default__empty_json_object() -%}
    '{}'::json
{%- endmacro %}

{% macro spark__empty_json_object() -%}
    '{}'
{%- endmacro %}

{# True when `text` is a JSON object, false for any other JSON or text that does not
   parse, null for null. #}
{% macro json_text_is_object(text) -%}
    {{ return(adapter.dispatch('json_text_is_object', 'credits')(text)) }}
{%- endmacro %}

{% macro default__json_text_is_object(text) -%}
    case when json_valid({{ text }}) then json_type({{ text }}) = 'OBJECT' else false end
{%- endmacro %}

{% macro spark__json_text_is_object(text) -%}
    case
        when {{ text }} is null then null
        else coalesce(schema_of_variant(try_parse_json({{ text }})) like 'OBJECT<%', false)
    end
{%- endmacro %}

{# A field of a JSON object as text (DuckDB `->>`): a string unquoted, a number or
   boolean as written, an object or array as JSON text, null when absent or JSON null.
   `key` is SQL: a quoted literal or a column. #}
{% macro json_field_text(json, key) -%}
    {{ return(adapter.dispatch('json_field_text', 'credits')(json, key)) }}
{%- endmacro %}

{# No parentheses, as the models wrote it: a caller wraps it where precedence matters. #}
{% macro default__json_field_text(json, key) -%}
    {{ json }} ->> {{ key }}
{%- endmacro %}

{% macro spark__json_field_text(json, key) -%}
    get_json_object({{ json }}, concat('$.', {{ key }}))
{%- endmacro %}

{# Several fields of one JSON object as text, in one parse where the engine allows:
   read item i (1-based) with list_item(). `keys` is a Jinja list of field names. #}
{% macro json_field_texts(json, keys) -%}
    {{ return(adapter.dispatch('json_field_texts', 'credits')(json, keys)) }}
{%- endmacro %}

{% macro default__json_field_texts(json, keys) -%}
    json_extract_string(
                    {{ json }}, [{% for key in keys %}'{{ key }}'{% if not loop.last %}, {% endif %}{% endfor %}]
                )
{%- endmacro %}

{% macro spark__json_field_texts(json, keys) -%}
    array({% for key in keys %}get_json_object({{ json }}, '$.{{ key }}'){% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{# Item i (1-based) of a list. #}
{% macro list_item(list, i) -%}
    {{ return(adapter.dispatch('list_item', 'credits')(list, i)) }}
{%- endmacro %}

{% macro default__list_item(list, i) -%}
    {{ list }}[{{ i }}]
{%- endmacro %}

{% macro spark__list_item(list, i) -%}
    element_at({{ list }}, {{ i }})
{%- endmacro %}

{# A field of a JSON object as JSON (an object stays JSON text), null when absent. #}
{% macro json_field_json(json, key) -%}
    {{ return(adapter.dispatch('json_field_json', 'credits')(json, key)) }}
{%- endmacro %}

{% macro default__json_field_json(json, key) -%}
    json_extract({{ json }}, {{ key }})
{%- endmacro %}

{# Spark: an object or array as get_json_object writes it (keys in their order, as DuckDB
   keeps them; a variant would sort them), a scalar through the variant (a string stays
   quoted, JSON null is 'null'). #}
{% macro spark__json_field_json(json, key) -%}
    case
        when
            schema_of_variant(variant_get(try_parse_json({{ json }}), concat('$.', {{ key }}), 'variant'))
                rlike '^(OBJECT|ARRAY)<'
            then get_json_object({{ json }}, concat('$.', {{ key }}))
        else to_json(variant_get(try_parse_json({{ json }}), concat('$.', {{ key }}), 'variant'))
    end
{%- endmacro %}

{# The kind of a JSON value, as DuckDB's json_type names it: OBJECT, ARRAY, NULL for JSON
   null, VARCHAR, BOOLEAN, and for numbers UBIGINT / BIGINT / DOUBLE; null for SQL null. #}
{% macro json_kind(json) -%}
    {{ return(adapter.dispatch('json_kind', 'credits')(json)) }}
{%- endmacro %}

{% macro default__json_kind(json) -%}
    json_type({{ json }})
{%- endmacro %}

{% macro spark__json_kind(json) -%}
    case
        when {{ json }} is null then null
        when schema_of_variant(try_parse_json({{ json }})) like 'OBJECT<%' then 'OBJECT'
        when schema_of_variant(try_parse_json({{ json }})) like 'ARRAY<%' then 'ARRAY'
        when schema_of_variant(try_parse_json({{ json }})) = 'VOID' then 'NULL'
        when schema_of_variant(try_parse_json({{ json }})) = 'STRING' then 'VARCHAR'
        when schema_of_variant(try_parse_json({{ json }})) = 'BOOLEAN' then 'BOOLEAN'
        when schema_of_variant(try_parse_json({{ json }})) = 'BIGINT'
            then case when {{ json }} like '-%' then 'BIGINT' else 'UBIGINT' end
        else 'DOUBLE'
    end
{%- endmacro %}

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

{# An aggregate: the values of `value` as a list ordered by `order_by` (DuckDB
   `list(value order by order_by)`). #}
{% macro ordered_list(value, order_by) -%}
    {{ return(adapter.dispatch('ordered_list', 'credits')(value, order_by)) }}
{%- endmacro %}

{% macro default__ordered_list(value, order_by) -%}
    list({{ value }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_list(value, order_by) -%}
    transform(array_sort(collect_list(struct({{ order_by }} as o, {{ value }} as v))), x -> x.v)
{%- endmacro %}

{# A JSON object of the fields `names` (a list of names, in order) of a JSON object, as
   text (json_field_text); null when `names` is null. #}
{% macro json_object_of_fields(names, json) -%}
    {{ return(adapter.dispatch('json_object_of_fields', 'credits')(names, json)) }}
{%- endmacro %}

{% macro default__json_object_of_fields(names, json) -%}
    to_json(map_from_entries(list_transform(
                {{ names }},
                lambda name: struct_pack(k := name, v := {{ json }} ->> name)
            )))
{%- endmacro %}

{% macro spark__json_object_of_fields(names, json) -%}
    to_json(map_from_entries(transform(
                {{ names }},
                name -> struct(name as k, {{ json_field_text(json, 'name') }} as v)
            )))
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

{# `text` split at `separator` into a list of texts (one character; DuckDB `string_split`).
   Spark's split() takes a regular expression: the character goes in a class, so it must be
   one that means itself there. #}
{% macro split_text(text, separator) -%}
    {{ return(adapter.dispatch('split_text', 'credits')(text, separator)) }}
{%- endmacro %}

{% macro default__split_text(text, separator) -%}
    string_split({{ text }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__split_text(text, separator) -%}
    {%- if separator | length != 1 or separator in "\\^[]-'" -%}
        {{ exceptions.raise_compiler_error("split_text: one plain character, not " ~ separator) }}
    {%- endif -%}
    split({{ text }}, '[{{ separator }}]')
{%- endmacro %}

{# A set-returning select item: one row per piece of `text` split at `separator`. #}
{% macro split_to_rows(text, separator) -%}
    {{ return(adapter.dispatch('split_to_rows', 'credits')(text, separator)) }}
{%- endmacro %}

{% macro default__split_to_rows(text, separator) -%}
    unnest({{ split_text(text, separator) }})
{%- endmacro %}

{% macro spark__split_to_rows(text, separator) -%}
    explode({{ split_text(text, separator) }})
{%- endmacro %}

{# An aggregate: the distinct non-null values of `value` sorted and joined by `separator`,
   '' when there are none (DuckDB `array_to_string(list_sort(list_distinct(list(...))))`). #}
{% macro sorted_distinct_joined(value, separator) -%}
    {{ return(adapter.dispatch('sorted_distinct_joined', 'credits')(value, separator)) }}
{%- endmacro %}

{% macro default__sorted_distinct_joined(value, separator) -%}
    array_to_string(list_sort(list_distinct(list({{ value }}))), '{{ separator }}')
{%- endmacro %}

{% macro spark__sorted_distinct_joined(value, separator) -%}
    array_join(array_sort(collect_set({{ value }})), '{{ separator }}')

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

{# dbt's cast() on Spark. The marts' and reports' enforced contracts declare DuckDB's type
   names, and dbt builds each contract's empty schema with cast(): Spark spells `varchar`
   (which it takes only with a length) and `json` as `string`; every other name the
   contracts use (bigint, integer, boolean, date, timestamp, decimal(p, s)) is the same. #}
{% macro spark__cast(field, type) -%}
    {%- set spark_names = {'varchar': 'string', 'json': 'string'} -%}
    cast({{ field }} as {{ spark_names.get(type | trim | lower, type) }})
{%- endmacro %}

{# The distinct items of a text list (`sep`-separated, each trimmed, blanks dropped), sorted. #}
{% macro sorted_text_items(text, sep) -%}
    {{ return(adapter.dispatch('sorted_text_items', 'credits')(text, sep)) }}
{%- endmacro %}

{% macro default__sorted_text_items(text, sep) -%}
    list_sort(list_distinct(list_filter(
            list_transform({{ split_text(text, sep) }}, lambda x: trim(x)),
            lambda x: x <> ''
        )))
{%- endmacro %}

{% macro spark__sorted_text_items(text, sep) -%}
    array_sort(array_distinct(filter(
            transform({{ split_text(text, sep) }}, x -> trim(x)),
            x -> x <> ''
        )))
{%- endmacro %}

{# A list's items joined by `sep` as text ('' for an empty list). #}
{% macro list_text(list, sep) -%}
    {{ return(adapter.dispatch('list_text', 'credits')(list, sep)) }}
{%- endmacro %}

{% macro default__list_text(list, sep) -%}
    array_to_string({{ list }}, '{{ sep }}')
{%- endmacro %}

{% macro spark__list_text(list, sep) -%}
    array_join({{ list }}, '{{ sep }}')
{%- endmacro %}

{# True when every item of `items` is in `list`. #}
{% macro list_has_all(list, items) -%}
    {{ return(adapter.dispatch('list_has_all', 'credits')(list, items)) }}
{%- endmacro %}

{% macro default__list_has_all(list, items) -%}
    list_has_all({{ list }}, {{ items }})
{%- endmacro %}

{% macro spark__list_has_all(list, items) -%}
    (size(array_except({{ items }}, {{ list }})) = 0)
{%- endmacro %}

{# An aggregate: the values as a list, in no particular order (DuckDB `list(value)`). #}
{% macro unordered_list(value) -%}
    {{ return(adapter.dispatch('unordered_list', 'credits')(value)) }}
{%- endmacro %}

{% macro default__unordered_list(value) -%}
    list({{ value }})
{%- endmacro %}

{% macro spark__unordered_list(value) -%}
    collect_list({{ value }})
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

{# A JSON object as text, the same bytes on both engines (an alert's details, which its
   alert_id hashes): `fields` is a list of [key, SQL expression, kind], in key order. Kind
   'number' (an integer or decimal: written as DuckDB writes it, every digit of its scale,
   no exponent) or 'text' (a string, date or timestamp: a JSON string of its text cast, a
   timestamp as '2026-03-15 12:00:00', fraction trimmed). SQL null is JSON null. Keys are
   plain words. DuckDB: json_object(), of type JSON. #}
{% macro json_object_text(fields) -%}
    {{ return(adapter.dispatch('json_object_text', 'credits')(fields)) }}
{%- endmacro %}

{% macro default__json_object_text(fields) -%}
    json_object({% for key, value, kind in fields %}'{{ key }}', {{ value }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{# Spark: cast(decimal as string) writes an exponent below 1e-6 ('0E-12'); under 1 the
   digits are taken from 1 + |value| instead, which has the same scale. A string is quoted
   and escaped by to_json, as DuckDB escapes it. #}
{% macro spark__json_object_text(fields) -%}
    concat('{'
    {%- for key, value, kind in fields %}
        {%- if not key.replace('_', '').isalnum() -%}
            {{ exceptions.raise_compiler_error("json_object_text: a plain key, not " ~ key) }}
        {%- endif %}, '{% if not loop.first %},{% endif %}"{{ key }}":', coalesce(
        {%- if kind == 'number' -%}
            case
                when abs({{ value }}) < 1
                    then concat(
                        case when {{ value }} < 0 then '-' else '' end,
                        '0',
                        substring(cast(abs({{ value }}) + 1 as string), 2)
                    )
                else cast({{ value }} as string)
            end
        {%- elif kind == 'text' -%}
            regexp_extract(to_json(array(cast({{ value }} as string))), '^\\[(.*)\\]$', 1)
        {%- else -%}
            {{ exceptions.raise_compiler_error("json_object_text: kind number or text, not " ~ kind) }}
        {%- endif -%}
        , 'null')
    {%- endfor %}, '}')
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
