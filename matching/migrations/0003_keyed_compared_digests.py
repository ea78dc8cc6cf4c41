"""Stored ``compared_digest`` values become keyed (``matching.selectors.keyed_digest``): the digest
of the same compared values, so every sticky decision stays decided, but no longer a bare
SHA-256 from which a child's date of birth could be recovered by trying dates."""

from django.db import migrations

from matching.selectors import keyed_digest


def forwards(apps, schema_editor):
    for name in ("PersonMatch", "SchoolMatch"):
        model = apps.get_model("matching", name)
        rows = list(model.objects.exclude(compared_digest="").only("pk", "compared_digest"))
        for row in rows:
            row.compared_digest = keyed_digest(row.compared_digest)
        model.objects.bulk_update(rows, ["compared_digest"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0002_district_linking"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
