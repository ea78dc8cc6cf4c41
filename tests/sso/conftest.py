"""Fixtures for Clever sign-in: small sandbox districts with the people each test needs, our
District rows, and a ``Browser`` that drives the Django test client through the real redirect
chain between the app and the sandbox (mounted at /sandbox/ in the same app; the app's own calls
to Clever reach it in-process through ``CLEVER_HTTP_ADAPTER``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from accounts.factories import OrganizationFactory
from districts.models import District
from sandbox import services as sandbox
from sandbox.ids import new_id
from sandbox.models import Sharing

CALLBACK_PATH = "/accounts/clever/login/callback/"
APP_HOSTS = ("http://127.0.0.1:8000", "http://testserver", "http://localhost")


def _on_site(url: str) -> bool:
    return (url.startswith("/") and not url.startswith("//")) or url.startswith(APP_HOSTS)


def path_of(url: str) -> str:
    return urlsplit(url).path


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@dataclass
class Browser:
    """A test client that follows redirects one hop at a time and remembers them."""

    client: Client = field(default_factory=Client)
    hops: list[tuple[str, int]] = field(default_factory=list)
    url: str = ""

    def go(self, url: str, *, method: str = "get", data: dict | None = None, stop=None, max_hops: int = 12):
        """Request ``url`` and follow redirects until a page (or ``stop(next_url)`` is true:
        then the redirect response is returned and ``self.url`` is where it points)."""
        response = getattr(self.client, method)(url, data or {})
        self.hops = [(url, response.status_code)]
        self.url = url
        while response.status_code in (301, 302, 303, 307, 308):
            target = response["Location"]
            assert _on_site(target), f"redirected off-site to {target!r}"
            self.url = target
            if stop is not None and stop(target):
                return response
            assert len(self.hops) < max_hops, f"too many redirects: {self.hops}"
            response = self.client.get(target)
            self.hops.append((target, response.status_code))
        return response

    def paths(self) -> list[str]:
        return [path_of(url) for url, _status in self.hops]

    def user_id(self):
        return self.client.session.get("_auth_user_id")

    def sign_in_at_clever(self, login_page_url: str, clever_id: str, **kwargs):
        """On the sandbox's login page: choose the user (its form posts the OAuth params back)."""
        params = {key: values[0] for key, values in query_of(login_page_url).items()}
        return self.go(path_of(login_page_url), method="post", data={**params, "user": clever_id}, **kwargs)


def to_callback(url: str) -> bool:
    return path_of(url) == CALLBACK_PATH


def to_clever_authorize(url: str) -> bool:
    return path_of(url) == "/sandbox/oauth/authorize"


@pytest.fixture
def browser(db):
    return Browser()


@pytest.fixture
def other_browser(db):
    return Browser()


def user_record(district, *, first, last, roles, email=None, legacy=None, **extra) -> dict:
    roles = {name: dict(role) for name, role in roles.items()}
    for name, role in roles.items():
        role.setdefault("credentials", {"district_username": f"{first}.{last}".lower()})
        if legacy and name in legacy:
            role["legacy_id"] = legacy[name]
    data = {"id": new_id(), "name": {"first": first, "last": last}, "roles": roles, **extra}
    if email is not None:
        data["email"] = email
    return sandbox.put_record(district=district, record_type="users", data=data)


def build_world(*, sharing=Sharing.DISTRICT, name="Springfield Unified", connect=True):
    sd = sandbox.create_district(name=name, sharing=sharing)
    school = sandbox.put_record(
        district=sd, record_type="schools", data={"id": new_id(), "name": f"{name} Elementary"}
    )
    sid = school["id"]
    teacher = user_record(
        sd,
        first="Ada",
        last="Lovelace",
        email="ada.lovelace@springfield.k12.example.us",
        roles={"teacher": {"school": sid, "schools": [sid], "sis_id": "T-1"}},
        legacy={"teacher": "legacy-t-1"},
    )
    student = user_record(
        sd,
        first="Bo",
        last="Peep",
        roles={
            "student": {"school": sid, "schools": [sid], "sis_id": "S-1", "grade": "1", "dob": "3/4/2018"}
        },
    )
    student2 = user_record(
        sd,
        first="Cy",
        last="Young",
        email="cy.young@springfield.k12.example.us",
        roles={"student": {"school": sid, "schools": [sid], "sis_id": "S-2", "grade": "1"}},
    )
    outsider = user_record(
        sd,
        first="Di",
        last="Other",
        roles={"student": {"school": sid, "schools": [sid], "sis_id": "S-3", "grade": "2"}},
    )
    admin = user_record(
        sd,
        first="Eve",
        last="Chief",
        email="eve.chief@springfield.k12.example.us",
        roles={
            "teacher": {"school": sid, "schools": [sid]},
            "staff": {"schools": [sid]},
            "district_admin": {},
        },
    )
    district_admin_only = user_record(
        sd,
        first="Flo",
        last="Boss",
        email="flo.boss@springfield.k12.example.us",
        roles={"district_admin": {}},
    )
    section = sandbox.put_record(
        district=sd,
        record_type="sections",
        data={
            "id": new_id(),
            "name": "Grade 1 Math",
            "school": sid,
            "subject": "math",
            "grade": "1",
            "teacher": teacher["id"],
            "teachers": [teacher["id"]],
            "students": [student["id"], student2["id"]],
        },
    )
    organization = OrganizationFactory(name=f"{name} Org")
    district = None
    if connect and sharing == Sharing.DISTRICT:
        district = District.objects.create(clever_id=sd.id, name=sd.name, organization=organization)
    return SimpleNamespace(
        sandbox_district=sd,
        district=district,
        organization=organization,
        school=school,
        teacher=teacher,
        student=student,
        student2=student2,
        outsider=outsider,
        admin=admin,
        district_admin_only=district_admin_only,
        section=section,
    )


@pytest.fixture
def world(db, sandbox_app):
    return build_world()


@pytest.fixture
def library(db, sandbox_app):
    return build_world(sharing=Sharing.LIBRARY, name="Shelbyville Schools")


@pytest.fixture
def login_with_clever():
    """``login_with_clever(browser, clever_id, start=...)``: Log in with Clever from the app,
    choosing the user on the sandbox's login page; returns the final response."""

    def run(browser: Browser, clever_id: str, start: str = "/accounts/clever/login/", **kwargs):
        browser.go(start, stop=to_clever_authorize)
        assert to_clever_authorize(browser.url), browser.hops
        login_page = browser.go(browser.url)
        assert login_page.status_code == 200 and b'name="user"' in login_page.content
        return browser.sign_in_at_clever(browser.url, clever_id, **kwargs)

    return run


@pytest.fixture
def portal_launch():
    def run(browser: Browser, clever_id: str, **kwargs):
        return browser.go(f"/sandbox/portal/launch?user={clever_id}", **kwargs)

    return run


assert settings.CLEVER_REDIRECT_URI.endswith(CALLBACK_PATH)
