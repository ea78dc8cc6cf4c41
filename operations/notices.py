"""What each alert says: its subject, state, title, words and link, built from the rows the
events name. Only district names, counts, IDs, statuses and fixed words go in (see
``operations.alerts``); a hold's samples, a run's raw error, assignment titles and section names
(which may name a teacher or a child) stay out.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from districts.models import District, DistrictAudit, DistrictStatus
from lms.models import CleverAssignment
from rostering.models import ChangeHold, SyncRun
from rostering.presentation import district_name, failure_summary

from .alerts import Notice, admin_url
from .models import AlertKind

# Failures whose cause is the district's own decision (it revoked the app or stopped sharing):
# the district-access alert says it, not a second "syncs keep failing" one.
DISTRICTS_OWN = frozenset({SyncRun.Cause.TOKEN_REFUSED, SyncRun.Cause.NO_TOKEN, SyncRun.Cause.DEPARTED})
NIGHTLY_SUBJECT = "nightly"


def district_subject(district_id: int) -> str:
    return f"district:{district_id}"


def assignment_subject(assignment_id: int) -> str:
    return f"assignment:{assignment_id}"


def _district_context(district: District) -> dict:
    return {
        "district": district_name(district),
        "district_id": district.pk,
        "district_url": admin_url("admin:districts_district_change", district.pk),
    }


def sync_held(run_id: int) -> Notice | None:
    from rostering.admin import reason_text  # the hold page's words for the guard's reasons

    run = SyncRun.objects.select_related("district").filter(pk=run_id).first()
    hold = ChangeHold.objects.filter(run_id=run_id).first()
    if run is None or hold is None:
        return None
    reasons = hold.reasons if isinstance(hold.reasons, list) else []
    context = {
        **_district_context(run.district),
        "reasons": [reason_text(r) for r in reasons],
        "run_id": run.pk,
    }
    return Notice(
        kind=AlertKind.SYNC_HELD,
        subject=district_subject(run.district_id),
        state="held",
        title=f"A sync of {context['district']} waits for approval",
        template="sync_held.txt",
        # The district's pending holds, not this one: a later sync that finds the same changes
        # supersedes it (no new message), and the link must still lead to the one to decide.
        url=admin_url(
            "admin:rostering_changehold_changelist",
            run__district__id__exact=run.district_id,
            status__exact=ChangeHold.Status.PENDING,
        ),
        context=context,
    )


def sync_failed(run_id: int) -> Notice | None:
    """None when the run did not fail, or failed because the district stopped sharing."""
    run = SyncRun.objects.select_related("district").filter(pk=run_id).first()
    if run is None or run.status != SyncRun.Status.FAILED or run.cause in DISTRICTS_OWN:
        return None
    cause, next_step = failure_summary(run)
    context = {
        **_district_context(run.district),
        "cause": cause,
        "next_step": next_step,
        "run_id": run.pk,
        "attempts": _failed_attempts(run),
    }
    return Notice(
        kind=AlertKind.SYNC_FAILED,
        subject=district_subject(run.district_id),
        state="failing",
        title=f"Syncs of {context['district']} keep failing",
        template="sync_failed.txt",
        url=admin_url("admin:rostering_syncrun_change", run.pk),
        context=context,
    )


def _failed_attempts(run: SyncRun) -> int:
    """Failed runs of the district since its last run that worked (this one included)."""
    last_worked = (
        SyncRun.objects.filter(district_id=run.district_id, status__in=["succeeded", "held", "rejected"])
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    failed = SyncRun.objects.filter(district_id=run.district_id, status=SyncRun.Status.FAILED)
    if last_worked is not None:
        failed = failed.filter(started_at__gt=last_worked)
    return failed.count()


def _last_status_actor(district: District) -> str:
    """Who made the district's latest status change, as the audit names them ("staff: ana")."""
    audit = (
        district.audits.filter(action=DistrictAudit.Action.STATUS_CHANGED)
        .order_by("-created_at", "-id")
        .first()
    )
    return audit.actor_label if audit is not None and audit.actor_label else "support staff"


def district_access(district_id: int, status: str) -> Notice | None:
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        return None
    context = {
        **_district_context(district),
        "revoked": status == DistrictStatus.REVOKED,
        # Support disconnected it themselves: not news from Clever, and nothing to ask the district.
        "by_staff": district.staff_disconnected,
        "actor": _last_status_actor(district),
        "retention_days": settings.ROSTER_RETENTION_DAYS,
    }
    name = context["district"]
    if context["by_staff"]:
        title = f"{name} was disconnected by support staff"
    elif context["revoked"]:
        title = f"{name} revoked the app's access in Clever"
    else:
        title = f"{name} stopped sharing its data with the app"
    return Notice(
        kind=AlertKind.DISTRICT_ACCESS,
        subject=district_subject(district.pk),
        state=status,
        title=title,
        template="district_access.txt",
        url=context["district_url"],
        context=context,
    )


def nightly_late(reason: str, last: datetime | None) -> Notice:
    context = {
        "reason": reason,
        "last": timezone.localtime(last).strftime("%d %b %Y %H:%M %Z") if last else "",
        "hours": settings.HEALTH_NIGHTLY_MAX_AGE_HOURS,
        "nightly_at": f"{settings.SYNC_NIGHTLY_HOUR:02d}:{settings.SYNC_NIGHTLY_MINUTE:02d}",
        "health_url": f"{settings.APP_BASE_URL}{reverse('health')}",
    }
    return Notice(
        kind=AlertKind.NIGHTLY,
        subject=NIGHTLY_SUBJECT,
        state="late",
        title="The nightly roster sync did not run",
        template="nightly.txt",
        url=admin_url("admin:rostering_syncrun_changelist", trigger__exact="nightly"),
        context=context,
    )


def lms_unknown(assignment_id: int) -> Notice | None:
    link = (
        CleverAssignment.objects.select_related("assignment__section__district")
        .filter(assignment_id=assignment_id)
        .first()
    )
    if link is None or link.state != CleverAssignment.State.UNKNOWN:
        return None
    district = link.assignment.section.district
    context = {
        **_district_context(district),
        "assignment_id": assignment_id,
        "lms": link.lms_type or district.lms_type or "the LMS",
    }
    return Notice(
        kind=AlertKind.LMS_UNKNOWN,
        subject=assignment_subject(assignment_id),
        state="unknown",
        title=f"An assignment in {context['district']}'s LMS needs checking",
        template="lms_unknown.txt",
        url=admin_url("admin:lms_cleverassignment_change", link.pk),
        context=context,
    )
