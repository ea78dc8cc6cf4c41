"""``manage.py clever_districts [--json]``: discover the Clever districts that share data.

Reads ``GET {CLEVER_OAUTH_BASE}/oauth/tokens?owner_type=district``, creates and refreshes
District rows, disconnects the ones whose token disappeared (``services.discover_districts``).
``--json`` prints one JSON object on stdout: the discovery summary plus ``districts``, a list of
``{"clever_id", "name", "status"}`` for every known district. Exit status 1 when the listing
itself fails (refused credentials, Clever unreachable): then nothing was changed. A district
whose record alone could not be read is reported in ``errors`` and does not fail the command.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clever.errors import AuthError, CleverError
from districts import selectors, services


class Command(BaseCommand):
    help = (
        "Discover Clever districts from GET /oauth/tokens?owner_type=district: create or update "
        "District rows; districts whose token disappeared become disconnected."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        as_json = options["json"]
        try:
            summary = services.discover_districts(actor_label="discovery (manage.py clever_districts)")
        except AuthError as exc:
            self._fail(
                "Clever refused the app's credentials (CLEVER_CLIENT_ID / CLEVER_CLIENT_SECRET) "
                f"at {settings.CLEVER_OAUTH_BASE}/oauth/tokens: {exc}",
                as_json,
            )
        except CleverError as exc:
            self._fail(f"Could not list the district tokens from Clever: {exc}", as_json)
        except ValueError as exc:
            # The client's own checks, e.g. no client ID or secret configured.
            self._fail(f"Cannot ask Clever for district tokens: {exc}", as_json)

        rows = selectors.district_rows()
        if as_json:
            self.stdout.write(json.dumps({**summary, "districts": rows}, ensure_ascii=False))
            return
        self._print_text(summary, rows)

    def _fail(self, message: str, as_json: bool):
        if as_json:
            self.stdout.write(json.dumps({"error": message}, ensure_ascii=False))
        raise CommandError(message)

    def _print_text(self, summary: dict, rows: list[dict]) -> None:
        width = max((len(row["name"]) for row in rows), default=4)
        for row in rows:
            self.stdout.write(f"{row['clever_id']}  {row['name'] or '-':<{width}}  {row['status']}")
        counts = ", ".join(
            f"{len(summary[key])} {key.replace('_', ' ')}"
            for key in ("created", "updated", "reconnected", "disconnected", "revoked", "kept_disconnected")
            if summary[key]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary['total']} district(s) listed by Clever" + (f": {counts}" if counts else "")
            )
        )
        for clever_id, message in summary["errors"].items():
            self.stderr.write(self.style.WARNING(f"{clever_id}: {message}"))
