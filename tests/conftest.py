"""Suite-wide test settings.

Hypothesis's per-example deadline (200 ms by default) is a timing assertion: on a shared
2-core machine or a busy CI runner a slow example fails a test whose property holds. Timing
is measured in benchmarks/, never asserted in tests, so the deadline is off everywhere.
"""

from hypothesis import settings

settings.register_profile("turnout", deadline=None)
settings.load_profile("turnout")
