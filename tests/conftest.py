"""pytest's hook file for the suite. It holds no helpers: those live in tests/helpers.py and
are imported by name. Its presence puts tests/ on sys.path, so `helpers` and `reference`
import from any test folder.

Hypothesis runs derandomized by default, so `make test` draws the same examples on every
run and a red build is reproducible; `make test-slow` (HYPOTHESIS_PROFILE=explore) draws new
ones each time.
"""

import os

from hypothesis import settings

settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
