"""``SyncRun.waiting``: what a running sync is waiting for (Clever's rate limit, or a backoff
after an error) and until when, so its page can say so instead of sitting at 0%."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rostering", "0007_guard_losses_and_sync_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="waiting",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
