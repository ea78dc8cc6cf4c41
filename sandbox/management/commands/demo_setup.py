"""Prepare the embedded demo: seed the local Clever once, discover its districts, run a first
sync of each, and create the demo support user.

Run by ``make demo`` before the server starts; safe to run again (it seeds only an empty
sandbox; discovery and an incremental sync are cheap). Lives in the sandbox app because it
exists only where the sandbox is mounted.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sandbox import services
from sandbox.models import SandboxDistrict

DEMO_SUPPORT_USER = "support"
DEMO_SUPPORT_PASSWORD = "support-demo"


class Command(BaseCommand):
    help = "Seed the local Clever sandbox and create the demo support user (embedded demo only)."

    def handle(self, *args, **options):
        if not SandboxDistrict.objects.exists():
            call_command("sandbox_seed", demo=True, stdout=self.stdout)
            call_command("sandbox_seed", districts=2, students=800, seed=2026, stdout=self.stdout)
        call_command("clever_districts", stdout=self.stdout)
        call_command("clever_sync", all=True, stdout=self.stdout)
        self._ensure_support_user()
        app = services.get_application()
        base = settings.APP_BASE_URL
        self.stdout.write(
            self.style.SUCCESS("\nThe demo is ready.\n")
            + f"  App:              {base}/\n"
            + f"  Support admin:    {base}/admin/"
            + f"  (user {DEMO_SUPPORT_USER}, password {DEMO_SUPPORT_PASSWORD})\n"
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
