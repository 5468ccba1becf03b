{# Resuming the ledger after the last close (docs/incremental.md). An incremental build
   recomputes only rows at or after `resume_from`, the first instant of the first period
   that was open at the last build; everything before it belongs to closed periods and is
   kept as it is. A model resumes only when its table exists and the build is not a full
   refresh; otherwise it computes everything. On Spark the models using these are whole
   tables (delete_insert_materialization(): parquet cannot delete rows), never incremental,
   so they compute everything each run; the walk resumes on its own (spark_walk.py). #}

{% macro is_resuming() %}
    {{ return(is_incremental() and run_var('resume_from') != '') }}
{% endmacro %}

{# The resume instant as a SQL timestamp. #}
{% macro resume_from() -%}
    cast('{{ run_var('resume_from') }}' as timestamp)
{%- endmacro %}

{# `column >= resume_from` when resuming, else true: rows the build recomputes. #}
{% macro in_resume_window(column) -%}
    {% if is_resuming() %}{{ column }} >= {{ resume_from() }}{% else %}true{% endif %}
{%- endmacro %}

{# A pre-hook: drop the rows the build recomputes (all of them when not resuming). #}
{% macro delete_resume_window(column) -%}
    {% if is_incremental() -%}
        delete from {{ this }} where {{ in_resume_window(column) }}
    {%- else -%}
        select 1
    {%- endif %}
{%- endmacro %}

{# dbt-duckdb leaves the table an incremental Python model's output was written to (in
   schema main, named after the model) behind after inserting from it: a post-hook drops it. #}
{% macro drop_python_model_leftovers() -%}
    {%- set leftovers = run_query(
        "select table_schema, table_name from information_schema.tables "
        ~ "where table_name like '" ~ this.identifier ~ "__dbt_tmp%'"
    ) if execute else [] -%}
    {%- for row in leftovers -%}
        drop table if exists "{{ row[0] }}"."{{ row[1] }}";
    {% else -%}
        select 1
    {%- endfor %}
{%- endmacro %}
