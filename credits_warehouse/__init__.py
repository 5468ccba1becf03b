"""The credit-billing warehouse as a library: everything that does not need the
orchestrator. Ingest, catalog, the ledger walk, periods and money rules, the warehouse file,
the incremental build plan, statements, invoices, documents and exports; the pandera models
of every layer (`checks`); sample data (`sample_data`). It never imports Dagster (a test
holds it so): `dagster_project/` wires it into assets, checks, jobs, schedules and sensors,
and the dbt project's Python model calls it directly.
"""
