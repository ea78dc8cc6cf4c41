from django.db import migrations, models


def revoked_departed_when_revoked(apps, schema_editor):
    """Revoked districts start the retention clock too (it was kept for disconnected ones only)."""
    District = apps.get_model("districts", "District")
    for district in District.objects.filter(status="revoked", departed_at__isnull=True):
        district.departed_at = district.status_changed_at
        district.save(update_fields=["departed_at"])


class Migration(migrations.Migration):
    dependencies = [("districts", "0005_unlinked_by_name_index")]

    operations = [
        migrations.RenameField("district", "disconnected_at", "departed_at"),
        migrations.AlterField(
            model_name="district",
            name="departed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="stopped sharing at"),
        ),
        migrations.RunPython(revoked_departed_when_revoked, migrations.RunPython.noop),
    ]
