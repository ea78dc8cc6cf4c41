"""The embedded demo's set-up (``manage.py demo_setup``, run by ``make demo``): it knows both the
app and the local Clever (``sandbox/``), so that the sandbox knows nothing of the app."""
