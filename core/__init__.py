"""Plain building blocks every app may use (no models, no imports from the apps): the domain
event mechanism (``core.events``) and the redaction of personal data (``core.redaction``)."""
