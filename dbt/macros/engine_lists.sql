{# Engine differences in lists and split text: items, aggregates to lists and to text,
   splitting at a character (docs/spark.md, "Dispatched macros"). As in engine.sql,
   `default__` is DuckDB and `spark__` Spark. #}

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
