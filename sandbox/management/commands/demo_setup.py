"""Prepare the embedded demo: seed the local Clever once, discover its districts, run a first
sync of each, create the demo support user, and give the product side something to match: an
organization linked to the first generated district with product records of some of its
students (copied with the mess real rosters have: nicknames, missing IDs), matched so that the
review queue has work; and an unlinked organization with an admin for the linking page.

Run by ``make demo`` before the server starts; safe to run again (it seeds only an empty
sandbox; discovery and an incremental sync are cheap). Lives in the sandbox app because it
exists only where the sandbox is mounted.
"""

import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import Organization
from districts.models import District
from districts.services import link_district
from matching.services import match_district
from rostering.models import Person
from rostering.selectors import dates_of_birth
from sandbox import services
from sandbox.models import SandboxDistrict

DEMO_SUPPORT_USER = "support"
DEMO_SUPPORT_PASSWORD = "support-demo"
DEMO_ORG_ADMIN = "orgadmin"
DEMO_ORG_ADMIN_PASSWORD = "orgadmin-demo"
# How many of the linked district's students the product already knew.
DEMO_PRODUCT_STUDENTS = 60


class Command(BaseCommand):
    help = "Seed the local Clever sandbox and create the demo support user (embedded demo only)."

    def handle(self, *args, **options):
        if not SandboxDistrict.objects.exists():
            call_command("sandbox_seed", demo=True, stdout=self.stdout)
            call_command("sandbox_seed", districts=2, students=800, seed=2026, stdout=self.stdout)
        call_command("clever_districts", stdout=self.stdout)
        call_command("clever_sync", all=True, stdout=self.stdout)
        self._ensure_support_user()
        self._ensure_product_side()
        app = services.get_application()
        base = settings.APP_BASE_URL
        self.stdout.write(
            self.style.SUCCESS("\nThe demo is ready.\n")
            + f"  App:              {base}/\n"
            + f"  Support admin:    {base}/admin/"
            + f"  (user {DEMO_SUPPORT_USER}, password {DEMO_SUPPORT_PASSWORD})\n"
            + f"  Linking page:     {base}/organization/districts/"
            + f"  (organization admin {DEMO_ORG_ADMIN}, password {DEMO_ORG_ADMIN_PASSWORD})\n"
            + f"  Sandbox control:  {base}/sandbox/\n"
            + f"  Clever Portal:    {base}/sandbox/portal/  (launch the app as any sandbox user)\n"
            + f"  Sandbox app:      client ID {app.client_id}, client secret {app.client_secret}\n"
            + f"  Redirect URI:     {app.redirect_uris[0] if app.redirect_uris else '(none)'}\n"
        )

    def _ensure_support_user(self):
        user_model = get_user_model()
        if not user_model.objects.filter(username=DEMO_SUPPORT_USER).exists():
            user_model.objects.create_superuser(
                username=DEMO_SUPPORT_USER, email="support@example.org", password=DEMO_SUPPORT_PASSWORD
            )

    def _ensure_product_side(self):
        """Idempotent: does nothing once the demo organizations exist."""
        if Organization.objects.filter(name__startswith="Demo: ").exists():
            return
        generated = list(District.objects.exclude(name__icontains="demo").order_by("clever_id")[:2])
        if len(generated) < 2:
            return
        linked, unlinked = generated
        organization = Organization.objects.create(name=f"Demo: {linked.name}", state=linked.us_state)
        linked = link_district(district=linked, organization=organization, method="staff",
                      evidence={"demo": True}, actor_label="demo setup")
        call_command("clever_sync", linked.clever_id, stdout=self.stdout)  # provisions accounts
        self._product_students(linked, organization)
        summary = match_district(district=linked)
        self.stdout.write(f"Matching in {linked}: {summary['people']}, "
                          f"{summary['review_queue']} in the review queue")
        other = Organization.objects.create(name=f"Demo: {unlinked.name} (not linked yet)",
                                            state=unlinked.us_state)
        user_model = get_user_model()
        if not user_model.objects.filter(username=DEMO_ORG_ADMIN).exists():
            user_model.objects.create_user(DEMO_ORG_ADMIN, password=DEMO_ORG_ADMIN_PASSWORD,
                                           organization=other, is_organization_admin=True)

    @staticmethod
    def _product_students(district: District, organization: Organization) -> None:
        """Product records of some students, as an older roster import would have them."""
        rng = random.Random(2026)
        students = list(Person.objects.filter(district=district, is_student=True, archived_at__isnull=True)
                        .order_by("clever_id")[:DEMO_PRODUCT_STUDENTS])
        born = dates_of_birth(students)
        user_model = get_user_model()
        for index, person in enumerate(students):
            first_name, sis_id, dob = person.first_name, person.student_sis_id, born[person.pk]
            if index % 5 == 1:
                first_name = first_name[:3]  # a short form of the name
            if index % 5 in (1, 2):
                sis_id = ""  # imported before the SIS had IDs
            if index % 10 == 3:
                dob = None
            grade = person.grade
            if grade.isdigit() and rng.random() < 0.2:
                grade = str(int(grade) - 1)  # last year's grade
            user_model.objects.create_user(
                f"product-student-{index + 1}", organization=organization, role="student",
                first_name=first_name, last_name=person.last_name, sis_id=sis_id, date_of_birth=dob,
                grade=grade,
            )
