"""Children's sensitive and demographic fields out of ``raw`` and out of the ``dob`` column.

Before: ``raw`` kept race, ethnicity, gender, the date of birth, the home address, ``ext`` and a
contact's phone in clear, ``Person.dob`` held the date of birth, and ``sensitive_ciphertext``
(only when the district stored sensitive fields) the eight program fields under their bare
names (``{"iep_status": "Y"}``).

After: no field of ``clever.sensitive.SENSITIVE_FIELDS`` is in ``raw`` or in a column;
``sensitive_ciphertext`` holds ``{path: value}`` of those kept (the date of birth always, the
others when the district stores them), and the content hash and fingerprint are what the sync
computes today, so the next sync of an unchanged district updates nobody and is not held
(``rostering.services.sensitive.reshape_people``: rows are mapped as the code of the day maps
them, which is what the next sync compares them with).

Staged rows of earlier runs have the old layout (a ``dob`` element) and listed fields in clear:
they are deleted, so pending holds can no longer be applied and are rejected (the next sync
stages and guards again), and failed runs are not resumed (``CHECKPOINT_VERSION`` 2). Page
digests of earlier runs stop matching (``MAPPING_VERSION`` 2): the next full sync of each
district reads every record once. Run it with the sync workers stopped, as every migration.

Going back adds an empty ``dob`` column and leaves the fields encrypted: nothing is put back
in clear.
"""

from django.db import migrations
from django.utils import timezone

from rostering.selectors import decrypted_fields
from rostering.services.sensitive import reshape_people

DISCARDED = (
    "discarded by the upgrade that took sensitive and demographic fields out of stored "
    "records; the next sync stages these changes again"
)


def _first_shape(ciphertext: str) -> dict:
    """What the first mapping encrypted: ``roles.student`` fields under their bare names."""
    return {f"roles.student.{name}": value for name, value in decrypted_fields(ciphertext).items()}


def forwards(apps, schema_editor):
    District = apps.get_model("districts", "District")
    Person = apps.get_model("rostering", "Person")
    StagedRecord = apps.get_model("rostering", "StagedRecord")
    ChangeHold = apps.get_model("rostering", "ChangeHold")
    SyncRun = apps.get_model("rostering", "SyncRun")
    for district in District.objects.only("pk", "store_sensitive_fields").order_by("pk"):
        reshape_people(
            Person.objects.filter(district_id=district.pk),
            keep_sensitive=district.store_sensitive_fields,
            read_kept=_first_shape,
        )
    StagedRecord.objects.all().delete()
    pending = ChangeHold.objects.filter(status="pending")
    held_runs = list(pending.values_list("run_id", flat=True))
    pending.update(status="rejected", decided_at=timezone.now())
    SyncRun.objects.filter(pk__in=held_runs, status="held").update(status="rejected", error=DISCARDED)


class Migration(migrations.Migration):
    dependencies = [
        ("rostering", "0005_derived_rows_without_constraints"),
    ]

    operations = [
        # The column first: on PostgreSQL, altering a table after rows of it were updated in
        # the same transaction can fail ("pending trigger events").
        migrations.RemoveField(model_name="person", name="dob"),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
