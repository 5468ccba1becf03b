"""The pandera models of every layer and how DuckDB judges their row rules; Dagster's asset
checks (dagster_project/checks/asset_checks.py) run them."""
