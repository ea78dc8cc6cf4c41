"""Plain building blocks every app may use (no tables, no imports from the apps): the domain
event mechanism (``core.events``), the redaction of personal data (``core.redaction``) and the
abstract base of every audit table (``core.models.AuditEntry``)."""
