{# dbt builtins that sqlfluff's jinja templater lacks, for `make lint` only (dbt never loads
   this folder): env_var renders its default. #}
{% macro env_var(name, default='') %}{{ default }}{% endmacro %}
