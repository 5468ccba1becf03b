{# A run's clock and window (as_of, period, period_start, period_end, resume_from): from the
   environment variable CREDITS_RUN_<NAME> when set (how the CLI, Dagster and the tests hand
   them over: credits_warehouse/incremental.py dbt_env), else dbt's var of the same name (an
   analyst's `--vars`, or the default in dbt_project.yml). Environment variables leave dbt's
   partial parse valid from one run to the next; a changed `--vars` makes dbt parse the
   whole project again. #}
{% macro run_var(name) -%}
    {{ return(env_var('CREDITS_RUN_' ~ (name | upper), var(name))) }}
{%- endmacro %}

{# The run's clock as a timestamp constant. A constant, not a one-row CTE read through a
   subquery: the engine then filters tables with it and estimates what passes (a subquery
   made DuckDB take 10M debits for a few hundred and hash them). #}
{% macro as_of_at() -%}
    cast('{{ run_var('as_of') }}' as timestamp)
{%- endmacro %}
