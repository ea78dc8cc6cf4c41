# Issue #17: every audit table shares core.models.AuditEntry; AccountLink's "evidence" column is
# its "details" (renamed in place: every row keeps what it holds).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0002_account_link_matched_and_refusal"),
    ]

    operations = [
        migrations.RenameField(model_name="accountlink", old_name="evidence", new_name="details"),
    ]
