{# `column_name` is unique, as dbt's `unique` has it. A build that resumes (run_var
   resume_from set: an incremental build) checks the rows it wrote, those holding the
   table's last `written_seq`, against every row: the other rows were checked by the build
   that wrote them, and a build changes a row only by writing it again (delete+insert). A
   day's run at 10M events so checks 20k keys, not 10M (1.2 s). Any other build checks
   every row, with dbt's own `unique`. #}
{% test unique_among_written(model, column_name, written_seq) %}
{% if run_var('resume_from') %}
    with

    written as (
        select {{ column_name }}
        from {{ model }}
        where {{ written_seq }} = (select max({{ written_seq }}) from {{ model }})
    )

    select {{ column_name }}, count(*) as copies
    from {{ model }}
    where {{ column_name }} in (select {{ column_name }} from written)
    group by {{ column_name }}
    having count(*) > 1
{% else %}
    {{ adapter.dispatch('test_unique', 'dbt')(model, column_name) }}
{% endif %}
{% endtest %}
