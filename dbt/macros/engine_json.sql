{# Engine differences in JSON: reading fields, kinds and objects out of JSON text, and
   writing JSON text the same bytes on both engines (docs/spark.md, "Dispatched macros").
   As in engine.sql, `default__` is DuckDB and `spark__` Spark. #}

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
