"""LMS Connect in the Django admin, for support staff (the districts admin's access rules).

- ``Assignment``: every product assignment with its state in the LMS, the last problem in plain
  words and Clever's own message, per-student push status (no grades in the list pages), and
  the audit of support decisions. Actions: push now, read LMS edits now (enqueued after the
  commit).
- ``CleverAssignment``: the queue of links by state and problem; an ``unknown`` one (the
  create's answer was lost) is reconciled here: "Link Clever assignment ID" (checked with a GET
  in the section) or "Confirm not created" (the next push creates it). Both audited.
- ``LmsCourse``: the courses people opened the app from in the LMS, which class each is set up
  as and by whom; support may clear a wrong choice (asked first, with a reason; audited).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import SupportAdminMixin, badge, confirmation_page, is_support
from core.forms import ReasonForm
from rostering.models import Section

from . import selectors, tasks
from .errors import LmsInputError
from .models import Assignment, CleverAssignment, LmsAudit, LmsCourse, SubmissionSync
from .services import courses, pull, reconcile

STATE_COLORS = {
    "not_pushed": "#6e7781",
    "creating": "#9a6700",
    "unknown": "#cf222e",
    "linked": "#1a7f37",
    "deleted": "#57606a",
}


def state_badge(link: CleverAssignment | None):
    if link is None:
        return "-"
    return badge(link.get_state_display(), STATE_COLORS.get(link.state, "#6e7781"), link.problem_message)


class SubmissionSyncInline(SupportAdminMixin, admin.TabularInline):
    model = SubmissionSync
    extra = 0
    can_delete = False
    # Grades are children's data: support sees statuses and errors, not values.
    fields = [
        "student_clever_id",
        "status",
        "pushed_at",
        "lms_seen_at",
        "lms_state",
        "lms_edited_at",
        "lms_submission_id",
        "error",
    ]
    readonly_fields = fields


class LmsAuditInline(SupportAdminMixin, admin.TabularInline):
    model = LmsAudit
    fk_name = "assignment"
    extra = 0
    can_delete = False
    fields = ["created_at", "action", "actor", "actor_label", "details_text"]
    readonly_fields = fields

    @admin.display(description="Details")
    def details_text(self, audit):
        """The decision's details in words (the reason first), never the stored dict."""
        details = audit.details or {}
        state_labels = dict(CleverAssignment.State.choices)
        lines = [
            ("Reason", details.get("reason")),
            (
                "Student",
                details.get("student")
                and selectors.person_name(audit.assignment.section.district_id, details["student"]),
            ),
            ("Clever assignment ID", details.get("clever_id")),
            (
                "Was",
                details.get("state_before")
                and state_labels.get(details["state_before"], details["state_before"]),
            ),
            ("Create attempts", details.get("create_attempts")),
        ]
        return format_html_join(
            mark_safe("<br>"), "{}: {}", ((label, value) for label, value in lines if value)
        )


def _enqueue(request, queryset, task, label: str) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    with transaction.atomic():
        for assignment_id in ids:
            task.delay_on_commit(assignment_id)
    messages.success(request, f"{label}: {len(ids)} assignment(s) enqueued.")


@admin.register(Assignment)
class AssignmentAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "section",
        "district",
        "due_at",
        "lms_state",
        "problem",
        "grading_type",
        "sync_policy",
    ]
    list_filter = [
        "clever__state",
        "clever__problem",
        "grading_type",
        "sync_policy",
        "section__district__lms_type",
    ]
    search_fields = ["title", "section__name", "section__clever_id", "clever__clever_id"]
    list_select_related = ["section__district", "clever"]
    readonly_fields = [
        "section",
        "title",
        "description",
        "due_at",
        "start_at",
        "points_possible",
        "grading_type",
        "submission_types_text",
        "max_attempts",
        "sync_policy",
        "auto_approve_autograded",
        "created_by_name",
        "created_at",
        "updated_at",
        "deleted_at",
        "lms_summary",
    ]
    fields = readonly_fields
    inlines = [SubmissionSyncInline, LmsAuditInline]
    actions = ["push_now", "pull_now"]

    @admin.display(description="District")
    def district(self, obj):
        return obj.section.district

    @admin.display(description="Submission types")
    def submission_types_text(self, obj):
        # In words ("text, file"), not the stored list's JSON (["text", "file"]).
        return ", ".join(obj.submission_types or []) or "-"

    @admin.display(description="Created by")
    def created_by_name(self, obj):
        # By name: a Clever teacher's account is named "clever-<Clever ID>".
        user = obj.created_by
        return (user.get_full_name() or user.get_username()) if user else "-"

    @admin.display(description="In the LMS")
    def lms_state(self, obj):
        return state_badge(getattr(obj, "clever", None))

    @admin.display(description="Problem")
    def problem(self, obj):
        link = getattr(obj, "clever", None)
        return link.problem_message if link and link.problem else ""

    @admin.display(description="LMS Connect")
    def lms_summary(self, obj):
        link = getattr(obj, "clever", None)
        url = reverse("admin:lms_cleverassignment_change", args=[link.pk]) if link else ""
        return format_html(
            "{}<br>{}<br><small>{}</small><br><a href='{}'>Link details and reconciliation</a>",
            state_badge(link),
            selectors.lms_status_text(obj),
            link.problem_detail if link else "",
            url,
        )

    @admin.action(description="Push to the LMS now")
    def push_now(self, request, queryset):
        _enqueue(request, queryset, tasks.push_assignment, "Push")

    @admin.action(description="Read teacher edits from the LMS now")
    def pull_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        reports = pull.pull_assignments(assignment_ids=ids)
        found = sum(r.lms_edits_found for r in reports)
        failed = [r for r in reports if r.outcome not in ("ok", "skipped")]
        messages.info(
            request, f"Read {len(reports)} assignment(s): {found} LMS edit(s) found, {len(failed)} failed."
        )


class LinkForm(forms.Form):
    clever_id = forms.CharField(label="Clever assignment ID (UUID)", max_length=64, strip=True)


@admin.register(CleverAssignment)
class CleverAssignmentAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = [
        "assignment",
        "state_display",
        "clever_id",
        "lms_type",
        "problem_label",
        "problem_message",
        "create_attempts",
        "last_push_at",
        "last_pull_at",
    ]
    list_filter = ["state", "problem", "lms_type"]
    search_fields = ["clever_id", "section_clever_id", "assignment__title"]
    list_select_related = ["assignment"]
    readonly_fields = [
        "assignment",
        "state",
        "clever_id",
        "section_clever_id",
        "lms_type",
        "create_started_at",
        "create_attempts",
        "created_in_lms_at",
        "pushed_content",
        "lms_state",
        "lms_last_modified",
        "push_requested_at",
        "last_push_at",
        "last_pull_at",
        "problem_label",
        "problem_message",
        "problem_detail",
        "problem_at",
    ]
    fields = readonly_fields
    change_form_template = "lms/admin/cleverassignment_change_form.html"

    @admin.display(description="State")
    def state_display(self, obj):
        return state_badge(obj)

    @admin.display(description="Problem", ordering="problem")
    def problem_label(self, obj):
        # "-" when there is none: the choice's label, "None", read as a Python None on the page.
        return obj.get_problem_display() if obj.problem else "-"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/link/",
                self.admin_site.admin_view(self.link_view),
                name="lms_cleverassignment_link",
            ),
            path(
                "<path:object_id>/not-created/",
                self.admin_site.admin_view(self.not_created_view),
                name="lms_cleverassignment_not_created",
            ),
            *super().get_urls(),
        ]

    def _get(self, request, object_id) -> CleverAssignment:
        if not is_support(request.user):
            raise PermissionDenied
        link = (
            CleverAssignment.objects.select_related("assignment__section__district")
            .filter(pk=unquote(object_id))
            .first()
        )
        if link is None:
            raise Http404
        return link

    def _back(self, link):
        return HttpResponseRedirect(reverse("admin:lms_cleverassignment_change", args=[link.pk]))

    def link_view(self, request, object_id):
        link = self._get(request, object_id)
        form = LinkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reconcile.link_clever_assignment(
                    assignment=link.assignment, clever_id=form.cleaned_data["clever_id"], actor=request.user
                )
            except LmsInputError as exc:
                form.add_error("clever_id", str(exc))
            else:
                messages.success(request, "Linked; the assignment and its grades will be pushed.")
                return self._back(link)
        context = {
            **self.admin_site.each_context(request),
            "title": "Link a Clever assignment",
            "link": link,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "lms/admin/link.html", context)

    def not_created_view(self, request, object_id):
        """Asks first, with a reason: a wrong "not created" makes the next push create a second
        copy of the assignment in the LMS."""
        link = self._get(request, object_id)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "lms/admin/confirm_not_created.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": f"Confirm “{link.assignment}” was not created in the LMS?",
                    "link": link,
                    "form": form,
                },
            )
        try:
            reconcile.confirm_not_created(
                assignment=link.assignment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except LmsInputError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Confirmed: the next push creates the assignment.")
        return self._back(link)


class LmsCourseAuditInline(SupportAdminMixin, admin.TabularInline):
    model = LmsAudit
    fk_name = "course"
    verbose_name_plural = "History"
    extra = 0
    can_delete = False
    fields = ["created_at", "action", "actor", "actor_label", "details_text"]
    readonly_fields = fields

    @admin.display(description="Details")
    def details_text(self, audit):
        """The decision in words (the reason first), never the stored dict."""
        details = audit.details or {}
        district_id = audit.course.district_id
        lines = [
            ("Reason", details.get("reason")),
            ("Class", details.get("section") and _section_name(district_id, details["section"])),
            ("Was", details.get("section_before") and _section_name(district_id, details["section_before"])),
            ("Teacher", details.get("teacher") and selectors.person_name(district_id, details["teacher"])),
        ]
        return format_html_join(
            mark_safe("<br>"), "{}: {}", ((label, value) for label, value in lines if value)
        )


def _section_name(district_id: int, clever_id: str) -> str:
    section = Section.objects.filter(district_id=district_id, clever_id=clever_id).first()
    return str(section) if section is not None else clever_id


@admin.register(LmsCourse)
class LmsCourseAdmin(SupportAdminMixin, admin.ModelAdmin):
    # Few, short columns: the list must fit beside the admin's navigation at 1280 px.
    list_display = ["__str__", "lms", "district_name", "class_name", "set_up_by", "last_launch_at"]
    list_filter = ["district"]
    search_fields = ["title", "label", "context_id", "clever_section_id", "district__name", "section__name"]
    list_select_related = ["district", "section", "linked_by"]
    readonly_fields = [
        "district",
        "title",
        "label",
        "lms",
        "platform_guid",
        "deployment_id",
        "context_id",
        "clever_section_id",
        "section",
        "linked_by",
        "linked_at",
        "teachers",
        "first_seen_at",
        "last_launch_at",
    ]
    fields = readonly_fields
    inlines = [LmsCourseAuditInline]
    actions = ["clear_link"]

    @admin.display(description="LMS")
    def lms(self, obj):
        return selectors.course_lms_name(obj)

    @admin.display(description="District", ordering="district__name")
    def district_name(self, obj):
        return obj.district.name

    @admin.display(description="Class here", ordering="section__name")
    def class_name(self, obj):
        return obj.section.name if obj.section else "-"

    @admin.display(description="Set up by")
    def set_up_by(self, obj):
        return str(obj.linked_by) if obj.linked_by else "-"

    @admin.display(description="Teachers seen opening the app from it")
    def teachers(self, obj):
        return (
            ", ".join(str(person) for person in obj.teachers_seen.order_by("last_name", "first_name")) or "-"
        )

    @admin.action(description="Clear which class the selected courses are…", permissions=["support"])
    def clear_link(self, request, queryset):
        """Asks for a reason on a confirmation page listing the courses first; their next launch
        asks their teacher again."""
        linked = queryset.exclude(section=None).select_related("section")
        form = ReasonForm(request.POST if "confirmed" in request.POST else None)
        if not form.is_valid():
            return confirmation_page(
                self,
                request,
                title=f"Clear the class of {linked.count()} course(s)?",
                confirm_label="Clear",
                question=(
                    "Launches from these courses will no longer open the class chosen for them: "
                    "their teacher is asked again which class each is."
                ),
                form=form,
                listed=[f"{course} (now {course.section})" for course in linked],
                nothing_listed="Not one of the selected courses is set up as a class.",
                action="clear_link",
                selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                change_url=reverse("admin:lms_lmscourse_changelist"),
            )
        cleared = 0
        for course in linked:
            courses.clear_course_link(course=course, actor=request.user, reason=form.cleaned_data["reason"])
            cleared += 1
        messages.success(request, f"Cleared: {cleared} course(s).")
        return None
