"""The Dagster code location loads and holds the stages of the flow."""

from dagster_project.definitions import defs


def test_definitions_load_with_every_stage():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in (
        "raw/events",
        "raw/customers",
        "raw/catalog_rates",
        "staging/stg_landing__events",
        "intermediate/int_events_rated",
        "marts/fct_rated_events",
        "marts/fct_monthly_usage",
        "marts/dim_customers",
        "marts/fct_grants",
        "marts/fct_credit_ledger",
        "documents/statement_pdfs",
    ):
        assert expected in keys


def test_job_and_pandera_checks_are_defined():
    job = defs.resolve_job_def("credits_job")
    assert job.name == "credits_job"
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "pandera_raw_event_rows",
        "pandera_staged_events",
        "pandera_events_rated",
        "pandera_rated_events",
        "pandera_credit_ledger",
    } <= checks
