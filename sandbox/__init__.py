"""A local Clever: OAuth, Data API v3.0/v3.1, Events and LMS Connect, with generated districts.

Mounted at ``/sandbox/`` when ``CLEVER_SANDBOX`` is on; never in production (the settings refuse
to load with it). Nothing in the product imports this package except settings, urls and tests.
"""
