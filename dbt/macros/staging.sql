{# Guards a raw landing table's rows: `is_object`, and `payload` as JSON only when the row
   is a JSON object, so field extraction never fails on a broken row (it is quarantined
   downstream instead). #}
{% macro guarded_payload(relation) -%}
    select
        *,
        case when json_valid(raw_payload) then json_type(raw_payload) = 'OBJECT' else false end
            as is_object,
        case
            when json_valid(raw_payload) and json_type(raw_payload) = 'OBJECT' then raw_payload::json
        end as payload
    from {{ relation }}
{%- endmacro %}

{# The columns every staged landing row keeps: where it came from and its verdict input. #}
{% macro landing_row_columns() -%}
        load_batch_id,
        batch_seq,
        source_file,
        line_number,
        raw_payload,
        ingested_at,
        is_object,
{%- endmacro %}
