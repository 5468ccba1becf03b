{# Each debit with the start of its ledger segment: the latest instant of its customer at or
   before it (an instant at the same time as a debit applies first, contract §4 "Same instant"),
   null before the first instant. `debits` has customer_id, booked_at and the other
   `columns` to carry; `instants` has customer_id and instant_at. Engine-dispatched: the portable form is a running max over
   the merged timeline; DuckDB's ASOF join does the same without sorting every debit
   (10M debits: 2 s against 4 s). #}
{% macro debits_with_segment_start(debits, instants, columns) %}
    {{ return(adapter.dispatch('debits_with_segment_start')(debits, instants, columns)) }}
{% endmacro %}

{% macro default__debits_with_segment_start(debits, instants, columns) %}
    select {{ columns | join(', ') }}, segment_start_at
    from (
        select
            *,
            max(case when is_debit = 0 then booked_at end) over (
                partition by customer_id order by booked_at, is_debit
                rows between unbounded preceding and current row
            ) as segment_start_at
        from (
            select {{ columns | join(', ') }}, 1 as is_debit from {{ debits }}
            union all
            select
                {% for column in columns -%}
                    {%- if column == 'customer_id' %}customer_id
                    {%- elif column == 'booked_at' %}instant_at
                    {%- else %}null{% endif %} as {{ column }},
                {% endfor -%}
                0 as is_debit
            from {{ instants }}
        ) as timeline
    ) as segmented
    where is_debit = 1
{% endmacro %}

{% macro duckdb__debits_with_segment_start(debits, instants, columns) %}
    select {% for column in columns %}debits.{{ column }}, {% endfor %} instants.instant_at as segment_start_at
    from {{ debits }} as debits
    asof left join (select distinct customer_id, instant_at from {{ instants }}) as instants
        on debits.customer_id = instants.customer_id and debits.booked_at >= instants.instant_at
{% endmacro %}
