"""``manage.py demo_setup``: everything ``make demo`` seeds before the server starts (the work is
``demo.setup.set_up_demo``; this command prints where to go next). It needs the local Clever:
with ``CLEVER_SANDBOX`` off it refuses with a ``CommandError``."""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Seed the local Clever sandbox and create the demo support user (embedded demo only)."

    def handle(self, *args, **options):
        if not (settings.CLEVER_SANDBOX and apps.is_installed("sandbox")):
            raise CommandError(
                "The demo needs the local Clever sandbox: set CLEVER_SANDBOX=on "
                "(the default outside DJANGO_ENV=production)."
            )
        # Imported here: demo.setup imports the sandbox's models, which exist only when it is on.
        from demo.setup import (
            DEMO_ORG_ADMIN,
            DEMO_ORG_ADMIN_PASSWORD,
            DEMO_SUPPORT_PASSWORD,
            DEMO_SUPPORT_USER,
            set_up_demo,
        )

        demo = set_up_demo(stdout=self.stdout)
        app = demo.application
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
            + f"  Canvas/Schoology: {base}/sandbox/lms/  (open the app from a course, as LMS Connect does)\n"
            + f"  Sandbox app:      client ID {app.client_id}, client secret {app.client_secret}\n"
            + f"  Redirect URI:     {app.redirect_uris[0]}\n"
        )
        if demo.teacher is not None:
            teacher = demo.teacher
            self.stdout.write(
                f"  Demo teacher:     {teacher} ({teacher.district.name}), with assignments in "
                f"the LMS: sign in with Instant Login at\n"
                f"                    {base}{demo.teacher_login_path}\n"
                f"                    or open the app from their classes in the LMS at\n"
                f"                    {base}{demo.teacher_lms_path}\n"
            )
