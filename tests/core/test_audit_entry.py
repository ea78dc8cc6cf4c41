"""One definition each (issue #17): every audit table shares ``core.models.AuditEntry``, so who
decided, what the decision rested on and when are the same four columns everywhere."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import models

from core.models import AuditEntry
from districts.models import DistrictAudit
from lms.models import LmsAudit
from matching.models import MatchAudit
from sso.models import AccountLink

AUDITS = (AccountLink, MatchAudit, DistrictAudit, LmsAudit)
SHARED = ("actor", "actor_label", "details", "created_at")


def test_the_base_is_abstract_and_orders_newest_first():
    assert AuditEntry._meta.abstract
    assert AuditEntry._meta.ordering == ["-created_at", "-id"]


@pytest.mark.parametrize("model", AUDITS, ids=lambda model: model.__name__)
def test_each_audit_table_is_an_audit_entry_with_the_shared_fields(model):
    assert issubclass(model, AuditEntry)
    assert not model._meta.abstract
    assert model._meta.ordering == ["-created_at", "-id"]
    fields = {field.name: field for field in model._meta.get_fields()}
    assert set(SHARED) <= set(fields)
    actor = fields["actor"]
    assert isinstance(actor, models.ForeignKey) and actor.null
    assert actor.related_model._meta.label == settings.AUTH_USER_MODEL
    assert actor.remote_field.on_delete is models.SET_NULL
    assert isinstance(fields["actor_label"], models.CharField) and fields["actor_label"].max_length == 255
    assert isinstance(fields["details"], models.JSONField) and fields["details"].get_default() == {}
    assert isinstance(fields["created_at"], models.DateTimeField)
    assert "evidence" not in fields  # renamed: the shared column is ``details``
