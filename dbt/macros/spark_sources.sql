{# Spark only: names each raw source (schema `raw`: landing, catalog, control) as a parquet
   table over the folder `<path>/<table>/`, the files credits_warehouse/spark_engine.py's
   export_raw_tables keeps (one file per load batch for a landing table). Spark skips the
   dot-named files a writer stages there.
   `dbt run-operation register_raw_parquet --args '{path: /abs/dir}' --target spark`. #}
{% macro register_raw_parquet(path) -%}
    {%- if "'" in path or "\\" in path -%}
        {{ exceptions.raise_compiler_error("register_raw_parquet: a path with a quote or backslash: " ~ path) }}
    {%- endif -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for node in graph.sources.values() if node.schema == 'raw' -%}
        {%- do run_query('drop table if exists raw.' ~ node.identifier) -%}
        {%- do run_query(
            "create table raw." ~ node.identifier ~ " using parquet location '"
            ~ path ~ "/" ~ node.identifier ~ "'"
        ) -%}
    {%- endfor -%}
{%- endmacro %}
