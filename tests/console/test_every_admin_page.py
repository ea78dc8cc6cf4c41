"""Every page of the support admin renders on the demo's data: no status 500 anywhere (issue #15,
"What must be shown").

The demo (``manage.py demo_setup``) is built once for the module inside a transaction that is
rolled back at the end, then given what it lacks so that every admin has rows of every kind:
districts paused, revoked and disconnected, an LMS district with assignments linked, refused,
unconfirmed and confirmed not created, syncs failed, resumed, held (approved, rejected, pending),
running and skipped, district link requests, product schools and their matches, Clever sign-ins,
and the allauth rows only superusers see.

For every ``ModelAdmin`` of ``admin.site`` the walk GETs the changelist, each list filter applied
(a choice the page itself offers), the date hierarchy, a search, a sort by each sortable column,
the change and history pages of real rows (first, last, and one per status or state), the add
and delete pages where permitted, and every URL the admin's ``get_urls()`` adds to Django's;
then POSTs each admin action on a selected row (a confirmation page must be a form; nothing is
confirmed), and POSTs each of those custom URLs with no data. Support staff walk the admins they
may see, a superuser the others (and the pages showing decrypted sensitive fields). Links to
filtered lists that pages show (the dashboard's counts, a district's panels) are followed too.
Every status 500 is collected with its URL and exception and reported in one assertion.

Pages whose visible text shows a raw ``{'``/``['`` repr, ``None``, or an internal username
(``clever-<id>``, ``product-student-<n>``) are printed as findings (``pytest -s``), not failed.
"""

from __future__ import annotations

import html
import io
import re
import time
import traceback
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.socialaccount.models import SocialApp
from django.contrib import admin
from django.contrib.admin import helpers as admin_helpers
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.factories import OrganizationEmailDomainFactory, OrganizationFactory, UserFactory
from accounts.models import Organization
from accounts.models import School as ProductSchool
from clever.client import CleverClient
from core.admin import SUPPORT_GROUP
from districts import services as district_services
from districts.models import District, DistrictStatus
from lms.factories import AssignmentFactory, ResultFactory
from lms.launch import LTI, Launch, parse_launch
from lms.models import Assignment
from lms.services.courses import link_course, record_launch
from lms.services.pull import pull_assignments
from lms.services.push import push_assignment
from lms.services.reconcile import confirm_not_created
from matching.linking.refresh import refresh_district_candidates
from matching.linking.services import issue_verification_link, reject_link_request, request_district_link
from matching.models import MatchStatus, PersonMatch
from matching.services import match_district
from operations import alerts, notices
from rostering.models import ChangeHold, Person, SyncRun
from rostering.models import School as CleverSchool
from rostering.services.sync import approve_hold, reject_hold, run_sync
from sandbox import services as sandbox_services
from sandbox.knobs import KNOBS
from sandbox.models import SandboxDistrict, SandboxRecord
from tests.conftest import FakeClock
from tests.lms.conftest import build_world

PROJECT = Path(__file__).resolve().parents[2]
# Admins with at most this many rows have each one's pages walked.
FEW_ROWS = 25
# Admins whose pages show decrypted sensitive fields to users with the permission.
SENSITIVE_ADMINS = {"rostering.Person", "matching.PersonMatch"}
# Among the admins support staff work in (the walk takes every one they may see).
SUPPORT_ADMINS = {
    "districts.District",
    "districts.DistrictAudit",
    "rostering.SyncRun",
    "rostering.ChangeHold",
    "rostering.Person",
    "matching.PersonMatch",
    "matching.DistrictLinkRequest",
    "accounts.Organization",
    "lms.CleverAssignment",
    "sso.CleverLogin",
}

# --- the data: the demo, and what it lacks ---------------------------------------------------------


def _client_factory(clock):
    clients = []

    def build(**overrides):
        options = {"clock": clock, "sleep": clock.sleep, "max_retries": 0}
        options.update(overrides)
        client = CleverClient(**options)
        clients.append(client)
        return client

    return build, clients


def _homeroom_launch() -> Launch:
    launch = parse_launch(
        {
            f"{LTI}message_type": "LtiResourceLinkRequest",
            f"{LTI}deployment_id": "deployment-1",
            f"{LTI}roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
            f"{LTI}context": {"id": "homeroom-5b", "title": "Homeroom 5B"},
            f"{LTI}tool_platform": {"guid": "canvas-guid", "name": "Canvas", "product_family_code": "canvas"},
        }
    )
    assert launch is not None
    return launch


def _small_district(make_client, clock, name, **options):
    """A small sandbox district, discovered and synced for real (tests/lms/conftest.py)."""
    return build_world(make_client=make_client, clock=clock, name=name, **options)


def _remove_students(sandbox_district: SandboxDistrict, share: float) -> None:
    """Delete ``share`` of the district's students from the local Clever (events included)."""
    students = list(
        SandboxRecord.objects.filter(district=sandbox_district, record_type="users", is_student=True)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)
    )
    sandbox_services.delete_records(clever_ids=students[: int(len(students) * share)])


def _build(support, superuser) -> dict:
    clock = FakeClock(start=float(int(time.time())))
    make_client, clients = _client_factory(clock)
    api = make_client()
    linked = District.objects.exclude(organization=None).get()
    linked_org = linked.organization
    unlinked_org = Organization.objects.get(name__startswith="Demo: ", name__endswith="(not linked yet)")
    org_admin = get_user_model().objects.get(username="orgadmin")
    demo = District.objects.filter(name__icontains="demo").order_by("pk").first()
    unlinked = District.objects.exclude(pk__in=[linked.pk, demo.pk]).get()

    # LMS Connect: a Canvas district; assignments linked (with a grade), refused (due in the
    # past), unconfirmed (the create's answer lost), confirmed not created, never pushed.
    lms = _small_district(make_client, clock, "Lakeside Unified", lms_type="canvas", students=4)
    linked_assignment = AssignmentFactory(section=lms.section, title="Fractions", due_at=lms.days(3))
    ResultFactory(assignment=linked_assignment, student=lms.students[0], points=8.25)
    push_assignment(assignment_id=linked_assignment.pk, client=api)
    pull_assignments(assignment_ids=[linked_assignment.pk], client=api)
    refused = AssignmentFactory(section=lms.section, title="Last week's quiz", due_at=lms.days(-3))
    push_assignment(assignment_id=refused.pk, client=api)
    for title in ("Decimals", "Percentages"):
        lost = AssignmentFactory(section=lms.section, title=title, due_at=lms.days(5))
        KNOBS.add_fault("malformed_json", on_request=1, count=1, path_contains="/assignments")
        assert push_assignment(assignment_id=lost.pk, client=api).outcome == "unknown"
    KNOBS.clear_faults()
    # The alert support got about the one still unconfirmed (the tests' transaction never
    # commits, so the subscriber that sends it in production does not run here).
    alerts.notify(notices.lms_unknown(Assignment.objects.get(section=lms.section, title="Decimals").pk))
    confirm_not_created(assignment=lost, actor=support, reason="Not in Canvas")
    AssignmentFactory(section=lms.section, title="Not pushed yet", due_at=lms.days(9))
    # A course made in Canvas that a teacher opened the app from and set up as their class.
    teacher = Person.objects.get(pk=lms.teacher.pk)
    homeroom = record_launch(district=lms.district, people=[teacher], launch=_homeroom_launch())
    link_course(course=homeroom, section=lms.section, teacher=teacher)

    # Districts of every status (built first: discovery reconnects a revoked district).
    paused, revoked, gone = (
        _small_district(make_client, clock, name, students=3).district
        for name in ("Paused Pines", "Revoked Ridge", "Gone Gulch")
    )
    district_services.pause_district(district=paused, actor=support, reason="Asked by the district")
    district_services.set_status(
        district=revoked,
        status=DistrictStatus.REVOKED,
        actor_label="sync: 401",
        reason="Clever refused the token (401)",
    )
    run_sync(district=revoked, client=api)  # skipped: not connected
    district_services.disconnect_district(district=gone, actor=support, reason="Contract ended")

    # Syncs of the demo district: failed half-way, resumed, failed again (it is "failing").
    KNOBS.add_fault("status", status=500, on_request=1, count=50, path_contains="/users")
    assert run_sync(district=demo, kind="full", client=api).status == SyncRun.Status.FAILED
    KNOBS.clear_faults()
    assert run_sync(district=demo, client=api).status == SyncRun.Status.SUCCEEDED
    KNOBS.add_fault("status", status=503, on_request=1, count=50)
    assert run_sync(district=demo, client=api).status == SyncRun.Status.FAILED
    KNOBS.clear_faults()

    # Holds on the unlinked demo district: one approved, one rejected, one pending.
    sandbox_unlinked = SandboxDistrict.objects.get(id=unlinked.clever_id)
    _remove_students(sandbox_unlinked, 0.15)
    first = run_sync(district=unlinked, kind="full", client=api)
    assert first.status == SyncRun.Status.HELD
    approve_hold(hold=first.hold, user=support)
    _remove_students(sandbox_unlinked, 0.15)
    second = run_sync(district=unlinked, kind="full", client=api)
    assert second.status == SyncRun.Status.HELD
    reject_hold(hold=second.hold, user=superuser)
    assert run_sync(district=unlinked, kind="full", client=api).status == SyncRun.Status.HELD

    # A sync running, waiting for Clever's rate limit (no service makes one that stays running).
    SyncRun.objects.create(
        district=paused,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.RUNNING,
        progress=0.4,
        current_collection="users",
        retries=2,
        requests=12,
        pages=10,
        waiting={"reason": "rate_limit", "until": (timezone.now() + timedelta(minutes=5)).isoformat()},
    )

    # District linking: candidates, requests pending (self-serve, verification link), rejected.
    refresh_district_candidates(queue=False)
    request_district_link(organization=unlinked_org, district=unlinked, requested_by=org_admin)
    issue_verification_link(organization=unlinked_org, district=lms.district, requested_by=org_admin)
    maple = OrganizationFactory(name="Maple County Schools", state="OR")
    OrganizationEmailDomainFactory(organization=maple, domain="maple.k12.or.us")
    wrong = request_district_link(organization=maple, district=demo, requested_by=org_admin)
    reject_link_request(link_request=wrong, actor=support, note="Not their district")

    # Product schools of the linked organization, and their matches.
    OrganizationEmailDomainFactory(organization=linked_org, domain="demo.k12.example.us")
    for school in CleverSchool.objects.filter(district=linked).order_by("clever_id")[:2]:
        ProductSchool.objects.create(organization=linked_org, name=school.name, nces_id=school.nces_id)
    ProductSchool.objects.create(organization=linked_org, name="Old Annex Building")
    match_district(district=linked)

    # The linked district stores its students' sensitive fields (shown decrypted to superusers).
    district_services.update_sync_settings(
        district=linked, actor=support, reason="IEP reports", store_sensitive_fields=True
    )
    stored = run_sync(district=linked, kind="full", client=api)
    if stored.status == SyncRun.Status.HELD:  # every student changes: the change guard holds it
        approve_hold(hold=stored.hold, user=support)
    assert Person.objects.filter(district=linked).exclude(sensitive_ciphertext="").exists()

    # Clever sign-ins from the Portal: a provisioned teacher, a student matched to a product
    # account (its Clever link is on "product-student-<n>").
    teacher = Person.objects.filter(district=linked, is_teacher=True, user__isnull=False).first()
    student = PersonMatch.objects.filter(district=linked, status=MatchStatus.AUTO_LINKED).first().person
    for person in (teacher, student):
        landed = Client().get(f"/sandbox/portal/launch?user={person.clever_id}", follow=True)
        assert landed.status_code == 200, (person, landed.redirect_chain)

    # What only superusers see: an email address, recovery codes, a database SocialApp.
    EmailAddress.objects.create(user=org_admin, email="orgadmin@example.org", verified=True, primary=True)
    RecoveryCodes.activate(superuser)
    SocialApp.objects.create(provider="clever", name="Clever (second app)", client_id="second-app")

    for client in clients:
        client.close()
    return {
        "persons": [teacher, student, Person.objects.filter(archived_at__isnull=False).order_by("pk").first()]
    }


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo's data for every test of the module, rolled back afterwards."""
    with django_db_blocker.unblock():
        cache.clear()
        KNOBS.reset()
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            sandbox_services.get_application()
            call_command("demo_setup", stdout=io.StringIO())
            support = UserFactory(
                username="helpdesk", first_name="Hana", last_name="Desk", is_staff=True, organization=None
            )
            # The group comes from a data migration, which a transactional test's flush removes.
            group, _created = Group.objects.get_or_create(name=SUPPORT_GROUP)
            group.permissions.add(Permission.objects.get(codename="support_district"))
            support.groups.add(group)
            superuser = get_user_model().objects.get(username="support")
            data = _build(support, superuser)
            data.update(support=support, superuser=superuser)
            yield data
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            KNOBS.reset()
            cache.clear()


# --- walking the admin ---------------------------------------------------------------------------

# Exceptions a change page turned into "-": Django's read-only fields swallow AttributeError and
# ValueError from display methods (django.contrib.admin.helpers.AdminReadonlyField.contents).
_SWALLOWED: list[str] = []


@pytest.fixture(autouse=True)
def swallowed_display_errors(monkeypatch):
    """Record the display errors a change page hides, for the walk to report as failures."""
    original = admin_helpers.lookup_field

    def lookup_field(name, obj, model_admin=None):
        try:
            return original(name, obj, model_admin)
        except (AttributeError, ValueError) as exc:
            _SWALLOWED.append(f'{name!r} raised {_cause(exc, exc.__traceback__)} (shown as "-")')
            raise

    monkeypatch.setattr(admin_helpers, "lookup_field", lookup_field)
    _SWALLOWED.clear()
    yield
    _SWALLOWED.clear()


class Walk:
    """GETs and POSTs through a logged-in test client, collecting every 5xx (with its exception)
    and the findings in the visible text of each page."""

    def __init__(self, user, who: str):
        self.client = Client(raise_request_exception=False)
        self.client.force_login(user)
        self.user = user
        self.who = who
        self.failures: list[str] = []
        self.findings: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.requests = 0
        self.visited: set[str] = set()
        # Links to filtered admin lists that pages show ("3 held syncs", "the district's syncs").
        self.links: set[str] = set()

    def get(self, url, **kwargs):
        self.visited.add(url)
        return self._check("GET", url, self.client.get(url, **kwargs))

    def follow_links(self) -> None:
        """GET the filtered lists pages link to that the walk has not requested yet."""
        for link in sorted(self.links - self.visited):
            self.get(link)

    def post(self, url, data):
        return self._check("POST", url, self.client.post(url, data))

    def _check(self, method, url, response):
        self.requests += 1
        self.failures += [f"{method} {url} -> {response.status_code}, but {hidden}" for hidden in _SWALLOWED]
        _SWALLOWED.clear()
        if response.status_code >= 500:
            self.failures.append(f"{method} {url} -> {response.status_code}: {_exception(response)}")
        elif response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            parts = url.split("?")[0].split("/")  # "", "admin", app, model, object ID, ...
            if len(parts) > 5 and parts[4] != "add":
                parts[4] = "<id>"
            page = "/".join(parts)
            content = response.content.decode()
            for label, snippet in _findings(content):
                self.findings[(page, label)].add(snippet)
            self.links.update(
                link
                for link in map(html.unescape, _ADMIN_LINK.findall(content))
                if "_changelist_filters=" not in link
            )
        return response


def _exception(response) -> str:
    info = getattr(response, "exc_info", None)
    if not info:
        return "(no exception recorded)"
    _kind, exc, tb = info
    return _cause(exc, tb)


def _cause(exc, tb) -> str:
    """The exception's type and first line, and the innermost line of the project it came from."""
    frames = [f for f in traceback.extract_tb(tb) if str(PROJECT) in f.filename and ".venv" not in f.filename]
    where = f" at {Path(frames[-1].filename).relative_to(PROJECT)}:{frames[-1].lineno}" if frames else ""
    first_line = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}{where}"


_ADMIN_LINK = re.compile(r'href="(/admin/[^"#]*\?[^"#]+)"')
_INVISIBLE = re.compile(r"<(script|style|svg)\b.*?</\1>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
FINDINGS = {
    "a raw dict or list repr": re.compile(r"\{'|\['"),
    '"None"': re.compile(r"\bNone\b(?! stored| of these)(?!: nothing)"),
    "an internal username": re.compile(r"\b(?:clever-[0-9a-f]{24}|product-student-\d+)\b"),
}


def _findings(page: str):
    text = html.unescape(_TAG.sub(" ", _INVISIBLE.sub(" ", page)))
    for label, pattern in FINDINGS.items():
        for match in pattern.finditer(text):
            snippet = " ".join(text[max(0, match.start() - 50) : match.end() + 50].split())
            yield label, f"…{snippet}…"


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _sees(model_admin, user) -> bool:
    request = _request(user)
    return model_admin.has_module_permission(request) and model_admin.has_view_or_change_permission(request)


def _changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _rows(model_admin, user, extra) -> list:
    """Every row when there are few; else the first and last rows, one per value of
    ``status``/``state``/``action``/``outcome``, and the module's extras."""
    queryset = model_admin.get_queryset(_request(user))
    if queryset.count() <= FEW_ROWS:
        return list(queryset.order_by("pk"))
    rows = [queryset.order_by("pk").first(), queryset.order_by("-pk").first()]
    field_names = {f.name for f in model_admin.model._meta.get_fields()}
    for name in ("status", "state", "action", "outcome"):
        if name in field_names:
            for value in queryset.order_by().values_list(name, flat=True).distinct():
                rows.append(queryset.filter(**{name: value}).order_by("pk").first())
    rows += [row for row in extra if isinstance(row, model_admin.model)]
    unique = {row.pk: row for row in rows if row is not None}
    return list(unique.values())


# What Django's changelist says when a POST did not reach the action.
NOT_RUN = (
    "No action selected.",
    "Items must be selected in order to perform actions on them. No items have been changed.",
)
_DEFAULT_PATTERNS = {
    "",
    "add/",
    "<path:object_id>/history/",
    "<path:object_id>/delete/",
    "<path:object_id>/change/",
    "<path:object_id>/",
}
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def _custom_urls(model_admin, rows) -> list[str]:
    """The URLs ``get_urls()`` adds to Django's, with real rows' IDs (and, for the District
    admin's buttons, every button name)."""
    from districts.admin import _extensions  # the District admin's buttons, its own and its extensions'

    base = _changelist_url(model_admin.model)
    buttons = [
        *getattr(model_admin, "buttons", {}),
        *(name for extension in _extensions for name in extension.buttons),
    ]
    urls = []
    for pattern in model_admin.get_urls():
        route = str(pattern.pattern)
        if route in _DEFAULT_PATTERNS:
            continue
        filled = [route]
        for parameter in _PARAMETER.finditer(route):
            values = (
                buttons
                if parameter[1] == "button"
                else [quote(str(row.pk)) for row in rows]
                if parameter[1] in ("object_id", "id")
                else None
            )
            if values is None:
                urls.append(f"(cannot fill in {route!r} of {type(model_admin).__name__})")
                filled = []
                break
            filled = [url.replace(parameter[0], value) for url in filled for value in values]
        urls += [base + url for url in filled]
    return urls


def _walk_admin(walk: Walk, model, model_admin, extra) -> None:
    request = _request(walk.user)
    url = _changelist_url(model)
    response = walk.get(url)
    rows = _rows(model_admin, walk.user, extra)
    changelist = (getattr(response, "context_data", None) or {}).get("cl")
    if changelist is not None:
        for spec in changelist.filter_specs:
            # The first choice the page offers besides the one applied ("All").
            choice = next((c for c in spec.choices(changelist) if not c.get("selected")), None)
            if choice is not None:
                walk.get(url + choice["query_string"])
        if changelist.date_hierarchy and rows:
            moment = getattr(rows[0], changelist.date_hierarchy, None)
            if moment is not None:
                moment = timezone.localtime(moment)
                field = changelist.date_hierarchy
                walk.get(f"{url}?{field}__year={moment.year}")
                walk.get(
                    f"{url}?{field}__year={moment.year}&{field}__month={moment.month}"
                    f"&{field}__day={moment.day}"
                )
        for index, name in enumerate(changelist.list_display):
            if changelist.get_ordering_field(name):
                walk.get(f"{url}?o={index}")
    if model_admin.get_search_fields(request):
        walk.get(url + "?q=a")
    if model_admin.has_add_permission(request):
        walk.get(url + "add/")
    for row in rows:
        walk.get(f"{url}{quote(str(row.pk))}/change/")
    if rows:
        walk.get(f"{url}{quote(str(rows[0].pk))}/history/")
        if model_admin.has_delete_permission(request, rows[0]):
            walk.get(f"{url}{quote(str(rows[0].pk))}/delete/")
    for field in model_admin.get_autocomplete_fields(request):
        walk.get(
            reverse("admin:autocomplete"),
            data={
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field,
                "term": "a",
            },
        )
    for custom in _custom_urls(model_admin, rows):
        if custom.startswith("("):
            walk.failures.append(custom)
        else:
            walk.get(custom)


def _registry():
    """Every (model, ModelAdmin) of the admin site, by model label."""
    return sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)


def _admins_of(user, *, visible: bool):
    """The (model, ModelAdmin) pairs ``user`` may (or may not) see."""
    return [(model, model_admin) for model, model_admin in _registry() if _sees(model_admin, user) is visible]


def _report(*walks: Walk) -> None:
    """Print the findings; fail with every 5xx of the walks at once."""
    for each in walks:
        if each.findings:
            print(f"\nFindings in the visible text of the pages {each.who} saw:")
            for (page, label), snippets in sorted(each.findings.items()):
                print(f"- {page}: {label}, {len(snippets)} time(s), e.g.")
                for snippet in sorted(snippets)[:2]:
                    print(f"    {snippet}")
    failures = [failure for each in walks for failure in each.failures]
    requests = sum(each.requests for each in walks)
    who = " and ".join(each.who for each in walks)
    assert not failures, f"{len(failures)} of {requests} requests ({who}) failed:\n" + "\n".join(failures)


# --- the tests ---------------------------------------------------------------------------------------


def test_the_data_has_a_row_for_every_admin(demo, db):
    """What the demo lacks was added: every admin has rows, every status is represented."""
    empty = [model._meta.label for model in admin.site._registry if not model._default_manager.exists()]
    assert not empty, f"no row to show in {empty}"
    statuses = set(District.objects.values_list("status", flat=True))
    assert statuses == set(DistrictStatus.values)
    runs = set(SyncRun.objects.values_list("status", flat=True))
    assert {"succeeded", "failed", "held", "rejected", "running", "skipped"} <= runs
    assert set(ChangeHold.objects.values_list("status", flat=True)) == set(ChangeHold.Status.values)


def test_support_staff_get_every_page_of_their_admins(demo, db):
    walk = Walk(demo["support"], "support staff")
    walk.get(reverse("admin:index"))
    admins = _admins_of(demo["support"], visible=True)
    seen = {model._meta.label for model, _ in admins}
    assert seen >= SUPPORT_ADMINS, SUPPORT_ADMINS - seen
    for app_label in sorted({model._meta.app_label for model, _ in admins}):
        walk.get(reverse("admin:app_list", args=[app_label]))
    for model, model_admin in admins:
        _walk_admin(walk, model, model_admin, demo["persons"])
    walk.follow_links()
    _report(walk)


def test_a_superuser_gets_every_page_of_the_admins_support_cannot_see(demo, db):
    walk = Walk(demo["superuser"], "a superuser")
    walk.get(reverse("admin:index"))
    admins = _admins_of(demo["support"], visible=False)
    assert admins, "support staff see every admin: nothing left for the superuser"
    for app_label in sorted({model._meta.app_label for model, _ in admins}):
        walk.get(reverse("admin:app_list", args=[app_label]))
    for model, model_admin in admins:
        _walk_admin(walk, model, model_admin, demo["persons"])
    # And the pages that show decrypted sensitive fields (support staff lack the permission).
    for model, model_admin in _admins_of(demo["support"], visible=True):
        if model._meta.label in SENSITIVE_ADMINS:
            for row in _rows(model_admin, walk.user, demo["persons"]):
                walk.get(f"{_changelist_url(model)}{quote(str(row.pk))}/change/")
    walk.follow_links()
    _report(walk)


def test_every_admin_action_runs_or_asks_for_confirmation(demo, db):
    """Each action on one selected row (the first), then on the first, the last and one row
    per status or state together: it redirects when done, or answers a confirmation page with
    a form (never confirmed here). A POST Django turns away before the action is a failure."""
    walks = {True: Walk(demo["support"], "support staff"), False: Walk(demo["superuser"], "a superuser")}
    for model, model_admin in _registry():
        walk = walks[_sees(model_admin, demo["support"])]
        actions = model_admin.get_actions(_request(walk.user))
        rows = _rows(model_admin, walk.user, demo["persons"])
        if not actions or not rows:
            continue
        url = _changelist_url(model)
        for name in actions:
            for selected in ([rows[0]], rows) if len(rows) > 1 else ([rows[0]],):
                walk.client.cookies.pop("messages", None)  # only this POST's messages are read
                response = walk.post(
                    url,
                    {
                        "action": name,
                        "index": "0",
                        "select_across": "0",
                        ACTION_CHECKBOX_NAME: [str(row.pk) for row in selected],
                    },
                )
                said = [str(message) for message in get_messages(response.wsgi_request)]
                where = f"POST {url} action={name} on {len(selected)} row(s)"
                if response.status_code == 200 and b"<form" not in response.content:
                    walk.failures.append(f"{where}: a page without a form")
                elif any(text in said for text in NOT_RUN):
                    walk.failures.append(f"{where}: not run ({said})")
    _report(walks[True], walks[False])


def test_every_custom_admin_url_answers_a_bare_post(demo, db):
    """The buttons and forms of ``get_urls()``, POSTed with no data: each does what it does,
    asks for what it misses (a confirmation, a reason, a decision) or refuses; never a 500."""
    walks = {True: Walk(demo["support"], "support staff"), False: Walk(demo["superuser"], "a superuser")}
    for _model, model_admin in _registry():
        walk = walks[_sees(model_admin, demo["support"])]
        for url in _custom_urls(model_admin, _rows(model_admin, walk.user, demo["persons"])):
            if url.startswith("("):
                walk.failures.append(url)
            else:
                walk.post(url, {})
    _report(walks[True], walks[False])


def test_the_walk_reports_a_500_with_its_url_and_exception(demo, db, monkeypatch):
    """The harness itself: a page that raises is collected with its URL, status and cause, and so
    is a display method whose error the change page hid behind "-"."""
    from districts.admin import DistrictAuditAdmin

    def broken(self, obj):
        raise KeyError("a broken column")

    def hidden(self, obj):
        raise ValueError("a hidden one\nsecond line")

    monkeypatch.setattr(DistrictAuditAdmin, "details_pretty", broken)
    walk = Walk(demo["support"], "support staff")
    audit = District.objects.get(name="Gone Gulch").audits.order_by("pk").first()
    url = reverse("admin:districts_districtaudit_change", args=[audit.pk])
    walk.get(url)
    monkeypatch.setattr(DistrictAuditAdmin, "details_pretty", hidden)
    walk.get(url)
    walk.get(reverse("admin:index"))
    here = "tests/console/test_every_admin_page.py"
    assert walk.failures == [
        f"GET {url} -> 500: KeyError: 'a broken column' at {here}:{broken.__code__.co_firstlineno + 1}",
        f"GET {url} -> 200, but 'details_pretty' raised ValueError: a hidden one at "
        f'{here}:{hidden.__code__.co_firstlineno + 1} (shown as "-")',
    ]
