{# The columns of the ledger walk's input rows, in order: the same as INPUT_SCHEMA in
   credits_warehouse/ledger_batches.py (tests/unit/test_ledger_batches.py holds them equal). #}
{% macro walk_input_columns() %}
    {{ return([
        ('customer_id', 'string'), ('input_kind', 'string'),
        ('grant_id', 'string'), ('grant_kind', 'string'), ('credits', credits_type()),
        ('effective_at', 'timestamp'), ('expires_at', 'timestamp'), ('priority', 'integer'),
        ('cost_basis_per_credit', credits_type()), ('currency', 'string'),
        ('paid_amount', 'bigint'), ('source_type', 'string'), ('source_id', 'string'),
        ('applies_to', 'string'),
        ('segment_start_at', 'timestamp'), ('eligibility_class', 'string'),
        ('run_seq', 'bigint'), ('first_booked_at', 'timestamp'),
        ('last_booked_at', 'timestamp'),
        ('started_at', 'timestamp'), ('ended_at', 'timestamp'), ('overage', 'string'),
        ('rollover_max_credits', credits_type()), ('rollover_expires_after_periods', 'integer'),
        ('enabled_from', 'timestamp'), ('enabled_to', 'timestamp'),
        ('threshold_credits', credits_type()), ('max_per_period', 'integer'),
        ('bundle_credits', credits_type()), ('expires_after_days', 'integer'),
        ('price_amount', 'bigint'),
        ('voided_at', 'timestamp'), ('event_id', 'string'),
        ('position_before', credits_type()), ('position_after', credits_type()),
        ('refunded_at', 'timestamp'), ('refund_id', 'string'),
        ('amendment_id', 'string'), ('amendment_action', 'string'),
        ('new_expires_at', 'timestamp'),
        ('booked_at', 'timestamp'),
        ('position_from', credits_type()), ('position_to', credits_type()),
        ('entry_type', 'string'), ('span_seq', 'bigint'),
        ('checkpoint', 'string'),
    ]) }}
{% endmacro %}

{# One kind of input row: `values` maps the columns this kind fills to expressions; every
   other column is a typed null. #}
{% macro walk_input(kind, values) -%}
    {%- for name, type in walk_input_columns() %}
    {% if name == 'input_kind' -%}
        cast('{{ kind }}' as {{ 'string' }})
    {%- elif name in values -%}
        cast({{ values[name] }} as {{ type }})
    {%- else -%}
        cast(null as {{ type }})
    {%- endif %} as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
