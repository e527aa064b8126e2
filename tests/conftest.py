"""Settings every test folder shares.

Hypothesis: CI (``.ci/run`` sets ``HYPOTHESIS_PROFILE=ci``) draws the same examples on every run
(``derandomize``), so a red CI is reproducible and never a new random draw; a developer's run
explores new examples each time and keeps what failed in ``.hypothesis/``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
