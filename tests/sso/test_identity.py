"""Pure parts: who a Clever login is, what is kept of it, which ``next`` is safe."""

import pytest

from sso.identity import CleverIdentity, identity_from
from sso.redirects import is_safe_next, safe_next

RECORD = {
    "id": "5a0c91b95c7cc000010d4201",
    "district": "5a0c91b95c7cc000010d417c",
    "email": "Pat.Doe@Lincoln.k12.example.us",
    "name": {"first": "Pat", "middle": "Q", "last": "Doe"},
    "roles": {
        "teacher": {
            "legacy_id": "legacy-teacher",
            "credentials": {"district_username": "pdoe"},
            "sis_id": "T9",
        },
        "district_admin": {"legacy_id": "legacy-admin"},
        "staff": {"staff_id": "S9"},
        "superhero": {},
    },
    "dob": "1/2/1980",
}


def test_every_role_counts_and_only_ids_names_email_and_roles_are_kept():
    identity = identity_from(
        me={"id": RECORD["id"], "district": RECORD["district"], "authorized_by": "district"}, record=RECORD
    )
    assert identity.roles == ("teacher", "staff", "district_admin")
    assert identity.email_domain == "lincoln.k12.example.us"
    assert identity.extra_data() == {
        "id": RECORD["id"],
        "district": RECORD["district"],
        "authorized_by": "district",
        "name": {"first": "Pat", "last": "Doe"},
        "email": "Pat.Doe@Lincoln.k12.example.us",
        "roles": ["teacher", "staff", "district_admin"],
        "legacy_ids": {"teacher": "legacy-teacher", "district_admin": "legacy-admin"},
    }
    assert CleverIdentity.from_extra_data(identity.extra_data()) == identity
    assert "Pat" not in repr(identity) and "@" not in repr(identity)


def test_odd_records_do_not_break_the_identity():
    identity = identity_from(
        me={"id": "x"},
        record={"id": "5a0c91b95c7cc000010d4202", "email": "no-at-sign", "roles": "student", "name": None},
    )
    assert identity.roles == () and identity.email_domain == "" and identity.usable_email == ""
    assert identity.authorized_by == "district" and identity.display_name == ""


@pytest.mark.parametrize("url", ["/account/", "/account/?tab=1", "/x/y#z"])
def test_paths_on_this_site_are_safe(url):
    assert is_safe_next(url)


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
        "/ok\nLocation: x",
        "/" + "a" * 600,
    ],
)
def test_everything_else_is_not(url):
    assert not is_safe_next(url)
    assert safe_next(url) == "/account/"
