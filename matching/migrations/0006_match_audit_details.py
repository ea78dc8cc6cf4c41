# Issue #17: every audit table shares core.models.AuditEntry; MatchAudit's "evidence" column is
# its "details" (renamed in place: every row keeps what it holds).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0005_link_request_steps"),
    ]

    operations = [
        migrations.RenameField(model_name="matchaudit", old_name="evidence", new_name="details"),
    ]
