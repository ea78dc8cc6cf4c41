"""The one application error base (core.errors): every error the app raises on purpose shares it,
keeps its extras across processes, and is the only kind whose text is stored as it is."""

from __future__ import annotations

import pickle

import pytest
from django.db import IntegrityError

from clever.errors import CleverError, InvalidGrant, RateLimited
from core.errors import AppError, safe_summary
from districts.crypto import DecryptionError
from districts.services import DistrictStateError, LinkError, NoToken, TokenRejected
from districts.session import TokenRefused
from lms.errors import GradesRefused, LmsInputError
from lms.tasks import RetryableLmsError
from matching.matchmaker import MatchmakerFileError
from matching.services import MatchError
from rostering.services.lifecycle import DistrictDeparted, SyncInProgress
from rostering.services.mapping import InvalidRecord
from rostering.services.sync import HoldError, RunLost, SyncError
from sso.services import LinkRefused

APP_ERRORS = (
    CleverError, DecryptionError, DistrictStateError, LinkError, NoToken, TokenRejected,
    TokenRefused, LmsInputError, GradesRefused, RetryableLmsError, MatchmakerFileError, MatchError,
    DistrictDeparted, SyncInProgress, InvalidRecord, SyncError, RunLost, HoldError, LinkRefused,
)  # fmt: skip


@pytest.mark.parametrize("error", APP_ERRORS, ids=lambda error: error.__name__)
def test_every_application_error_shares_the_base(error):
    assert issubclass(error, AppError)


@pytest.mark.parametrize("error", [LinkError, MatchError, LmsInputError, InvalidRecord, LinkRefused])
def test_refusals_callers_catch_as_value_errors_still_are(error):
    assert issubclass(error, ValueError)


def test_a_message_and_structured_extras():
    error = AppError("The district is paused.", district="abc", attempts=2)
    assert (str(error), error.message) == ("The district is paused.", "The district is paused.")
    assert error.extras == {"district": "abc", "attempts": 2}
    assert (error.district, error.attempts) == ("abc", 2)


def test_a_clever_error_reads_as_before_and_carries_its_facts_as_extras():
    error = RateLimited("slow down", status=429, method="GET", url="/v3.0/users", reset_at=1700000000.0)
    assert str(error) == "GET /v3.0/users: HTTP 429: slow down"
    assert error.message == "slow down"
    assert error.extras["status"] == 429 and error.reset_at == 1700000000.0
    assert RateLimited("x").reset_at is None and InvalidGrant("x").error == ""


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", status=429, method="GET", url="/v3.0/users", reset_at=12.5, body="{}"),
        InvalidGrant("used", status=400, error="invalid_grant"),
        GradesRefused({"student-1": "Not a number."}),
        MatchmakerFileError(["line 2: no Clever ID"]),
        LinkError("The district is linked to another organization."),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_cross_a_process_whole(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (str(copy), copy.message, copy.extras) == (str(error), error.message, error.extras)
    assert copy.__dict__ == error.__dict__


def test_only_application_errors_are_stored_in_their_own_words():
    assert safe_summary(NoToken("Clever lists no token for the district.")) == (
        "Clever lists no token for the district."
    )
    leaky = IntegrityError("duplicate key\nDETAIL: Key (name)=(Jane Student) already exists.")
    assert safe_summary(leaky) == "IntegrityError: duplicate key"
