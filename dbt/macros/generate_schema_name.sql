{# Schemas are named exactly as configured (staging, intermediate, marts), as contract §6.1 fixes,
   not prefixed with the target schema as dbt does by default. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
