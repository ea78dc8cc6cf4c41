# Issue #17: every audit table shares core.models.AuditEntry, whose "actor_label" names who
# decided; LmsAudit gains it (earlier rows keep an empty label: their actor says who).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lms", "0002_sync_policy_in_words"),
    ]

    operations = [
        migrations.AddField(
            model_name="lmsaudit",
            name="actor_label",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
