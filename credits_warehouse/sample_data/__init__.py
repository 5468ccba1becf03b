"""Sample data for demos, tests and benchmarks: `credits generate` (generate.py)."""
