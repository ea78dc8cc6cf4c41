"""``manage.py demo_setup`` (what ``make demo`` runs before serving): seeds, discovers, syncs,
gives the product side a linked organization with matching work and an org admin, and a demo
teacher whose class has assignments in the LMS, who signs in with the Instant Login link it
prints. One run of the command serves every check (it takes seconds)."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Organization
from districts.models import District
from lms.models import Assignment, Result, SubmissionSync
from matching.models import MatchStatus, PersonMatch
from rostering.models import SyncRun
from sandbox import services
from sandbox.models import SandboxDistrict, SandboxLmsSubmission, SandboxRecord, Sharing

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

Status = SubmissionSync.Status


def test_demo_setup_prepares_everything_and_can_run_again(sandbox_app, client, settings):
    out = io.StringIO()
    call_command("demo_setup", stdout=out)

    assert "The demo is ready." in out.getvalue()
    assert District.objects.count() == 3
    assert SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).values("district").distinct().count() == 3
    linked = District.objects.exclude(organization=None).get()
    assert linked.organization.name.startswith("Demo: ")
    assert PersonMatch.objects.filter(district=linked, status=MatchStatus.AUTO_LINKED).count() > 40
    assert PersonMatch.objects.filter(district=linked, status=MatchStatus.PENDING).exists()
    admin = get_user_model().objects.get(username="orgadmin")
    assert admin.is_organization_admin and not admin.organization.districts.exists()
    assert get_user_model().objects.get(username="support").is_superuser
    # A Clever Library district, for the control page's Library teachers.
    library = SandboxDistrict.objects.get(sharing=Sharing.LIBRARY)
    assert SandboxRecord.objects.filter(district=library, is_teacher=True).exists()

    # The demo teacher's class has assignments in the district's LMS, sent through Clever.
    quiz, report, journal = Assignment.objects.order_by("due_at")
    section = quiz.section
    assert section.district == linked and linked.lms_type and report.section == journal.section == section
    assert {a.clever.state for a in (quiz, report, journal)} == {"linked"}
    assert SandboxLmsSubmission.objects.filter(assignment__district_id=linked.clever_id).count() > 0
    sent = SubmissionSync.objects.filter(assignment=quiz, status=Status.PUSHED)
    assert sent.count() > 10
    one = sent.first()
    in_lms = SandboxLmsSubmission.objects.get(
        assignment_id=quiz.clever.clever_id, user_id=one.student_clever_id
    ).data
    ours = Result.objects.get(assignment=quiz, student__clever_id=one.student_clever_id)
    assert in_lms["grade_points"] == ours.points and ours.status == "approved"
    # One report grade was changed in the LMS afterwards and read back: kept.
    edited = SubmissionSync.objects.get(assignment=report, status=Status.LMS_EDITED)
    assert edited.lms_value["grade"] == "A" and edited.lms_value["grade_points"] == 95
    # The journal's grades are drafts: none sent.
    assert set(Result.objects.filter(assignment=journal).values_list("status", flat=True)) == {"draft"}
    assert not SubmissionSync.objects.filter(assignment=journal).exclude(pushed=None).exists()

    # The demo teacher signs in with the Instant Login link printed, and sees the assignments.
    link = re.search(r"Demo teacher: .*?\n\s+(http\S+)", out.getvalue()).group(1)
    landing = client.get(link, follow=True)
    assert landing.status_code == 200
    teacher = landing.wsgi_request.user
    assert teacher.is_authenticated and teacher.get_full_name() in out.getvalue()
    assert section.name in client.get("/lms/sections/").content.decode()
    assignment_page = client.get(f"/lms/assignments/{report.pk}/").content.decode()
    row = assignment_page[assignment_page.index(f'id="student-{edited.student_clever_id}"') :]
    assert "kept" in row[: row.index("</tr>")]

    # Again, served on another port: nothing duplicated, and Clever's launches go to that port.
    settings.CLEVER_REDIRECT_URI = "http://127.0.0.1:8014/accounts/clever/login/callback/"
    call_command("demo_setup", stdout=io.StringIO())

    assert Organization.objects.filter(name__startswith="Demo: ").count() == 2
    assert District.objects.count() == 3
    assert Assignment.objects.count() == 3
    assert services.get_application().redirect_uris[0] == settings.CLEVER_REDIRECT_URI


def test_demo_setup_without_the_sandbox_refuses_with_a_clear_error(tmp_path):
    """With CLEVER_SANDBOX off the sandbox app is not installed: a CommandError, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLEVER_"))}
    env.update(CLEVER_SANDBOX="off", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "demo_setup"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "CommandError: The demo needs the local Clever sandbox" in result.stderr
    assert "Traceback" not in result.stderr
