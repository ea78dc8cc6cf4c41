"""``manage.py rotate_encryption_keys [--batch-size N] [--dry-run] [--json]``.

Re-encrypts every stored ciphertext (district tokens pasted by staff, the rostering app's
sensitive student fields, and staff's second-factor secrets) with the newest key of ``FIELD_ENCRYPTION_KEYS``
(``services.reencrypt_stored_values``). Rotate a key by putting the new one first, running this,
then removing the old one. Exit status 1 when some value no configured key decrypts (keep the
old key until that is resolved). ``--json`` prints one JSON object:
``{"dry_run", "columns": {"app.Model.field": {"rotated", "failed", "failed_ids"}}, "rotated",
"failed"}``.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from districts import services


class Command(BaseCommand):
    help = "Re-encrypt every stored encrypted value with the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")
        parser.add_argument(
            "--dry-run", action="store_true", help="only check that every value decrypts; write nothing"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        dry_run = options["dry_run"]
        columns = services.reencrypt_stored_values(batch_size=options["batch_size"], dry_run=dry_run)
        rotated = sum(c["rotated"] for c in columns.values())
        failed = sum(c["failed"] for c in columns.values())
        if options["json"]:
            self.stdout.write(
                json.dumps({"dry_run": dry_run, "columns": columns, "rotated": rotated, "failed": failed})
            )
        else:
            verb = "decryptable" if dry_run else "re-encrypted"
            for label, counts in columns.items():
                self.stdout.write(f"{label}: {counts['rotated']} {verb}, {counts['failed']} failed")
            self.stdout.write(
                self.style.SUCCESS(
                    f"{rotated} value(s) decrypt with the current keys"
                    if dry_run
                    else f"{rotated} value(s) re-encrypted with the newest key"
                )
            )
        if failed:
            raise CommandError(
                f"{failed} stored value(s) could not be decrypted with FIELD_ENCRYPTION_KEYS "
                "(ids in --json output): keep the old key until they are fixed"
            )
