{# A customer as a document names them, from dim_customers: the name falls back to the id,
   and missing contact fields print as nothing. #}
{% macro customer_party_columns(customers) -%}
    coalesce({{ customers }}.customer_name, {{ customers }}.customer_id) as customer_name,
    coalesce({{ customers }}.email, '') as customer_email,
    coalesce({{ customers }}.address, '') as customer_address,
    coalesce({{ customers }}.country, '') as customer_country
{%- endmacro %}
