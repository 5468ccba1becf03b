"""`adapter` for sqlfluff's jinja templater (make lint only; dbt never reads this folder).

An engine-dispatched macro renders as a placeholder here: each engine's body is checked
when dbt compiles it, and the model around the call is what sqlfluff lints. A macro that
takes a relation renders as a one-row select from it; the expression macros of
dbt/macros/engine.sql and types.sql as a column name.
"""

# Dispatched macros that render a SQL expression (docs/spark.md).
EXPRESSIONS = {
    "as_json",
    "big_integer",
    "cost_basis_per_credit",
    "days_interval",
    "list_has_all",
    "list_text",
    "month_start",
    "round_half_even_div",
    "scaled_credits",
    "seconds_between",
    "series_rows",
    "sorted_text_items",
    "truncating_div",
    "unordered_list",
    "canonical_properties",
    "empty_json_object",
    "format_timestamp",
    "hours_interval",
    "infinity_timestamp",
    "json_field_json",
    "json_field_text",
    "json_field_texts",
    "json_kind",
    "json_object_text",
    "json_object_of_fields",
    "json_text_is_object",
    "list_item",
    "ordered_list",
    "parse_timestamp",
    "parse_utc_timestamp",
    "sorted_distinct_joined",
    "split_to_rows",
    "thousands",
    "window_median",
}


def dispatch(macro_name, macro_namespace=None):
    if macro_name == "star_except":
        return lambda alias, columns: f"{alias}.*"
    if macro_name == "series_rows":  # its arguments are often subqueries the model must keep
        return lambda start, stop, step: f"unnest(generate_series({start}, {stop}, {step}))"
    if macro_name == "delete_insert_materialization":
        return lambda: "incremental"
    if macro_name in EXPRESSIONS:
        return lambda *args, **kwargs: "dispatched_expression"
    return lambda relation, *args, **kwargs: f"select * from {relation}"  # noqa: S608 - lint only
