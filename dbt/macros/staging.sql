{# Guards a raw landing table's rows: `is_object`, and `payload` as JSON only when the row
   is a JSON object, so field extraction never fails on a broken row (it is quarantined
   downstream instead). #}
{% macro guarded_payload(relation) -%}
    select
        *,
        {{ json_text_is_object('raw_payload') }}
            as is_object,
        case
            when {{ json_text_is_object('raw_payload') }} then {{ as_json('raw_payload') }}
        end as payload
    from {{ relation }}
{%- endmacro %}

{# The columns every staged landing row keeps: where it came from and its verdict input.
   Staged events leave the payload out (`with_payload=false`): at 10M events it is 2 GB of
   text that the downstream tables copied on every build; fct_event_quarantine reads the
   few quarantined rows' payloads back from raw.events by row id instead. #}
{% macro landing_row_columns(with_payload=true) -%}
        load_batch_id,
        batch_seq,
        source_file,
        line_number,
        {% if with_payload -%} raw_payload, {%- endif %}
        ingested_at,
        -- A file ingest could not read lands as one row with no payload (unreadable_file).
        raw_payload is null as is_unreadable_file,
        is_object,
{%- endmacro %}

{# A field of the guarded `payload` as text (json_field_text), by name. #}
{% macro payload_field(name) -%}
    {{ json_field_text('payload', "'" ~ name ~ "'") }}
{%- endmacro %}
