{# The columns together identify a row: no two rows share the same values of all of them.
   (dbt_utils' unique_combination_of_columns, which cannot be installed here.) #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
