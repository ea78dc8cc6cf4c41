# Issue #19: launches from the LMS. LmsCourse records the courses people open the app from (and
# which class a teacher set each up as); LmsAudit rows may now be about a course instead of an
# assignment (exactly one of the two).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("districts", "0006_departed_at"),
        ("lms", "0003_lmsaudit_actor_label"),
        ("rostering", "0010_syncrun_cause"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="lmsaudit",
            name="action",
            field=models.CharField(
                choices=[
                    ("linked", "Linked to a Clever assignment"),
                    ("confirmed_not_created", "Confirmed not created in the LMS"),
                    ("override_lms_edit", "Product grade sent over an LMS edit"),
                    ("course_linked", "LMS course set up as a section"),
                    ("course_link_cleared", "LMS course's section cleared"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="lmsaudit",
            name="assignment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="audits",
                to="lms.assignment",
            ),
        ),
        migrations.CreateModel(
            name="LmsCourse",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "platform_guid",
                    models.CharField(blank=True, max_length=255, verbose_name="LMS installation"),
                ),
                ("platform_name", models.CharField(blank=True, max_length=64, verbose_name="LMS name")),
                ("product_family", models.CharField(blank=True, max_length=64, verbose_name="LMS product")),
                ("deployment_id", models.CharField(max_length=255)),
                ("context_id", models.CharField(max_length=255, verbose_name="course ID in the LMS")),
                ("title", models.CharField(blank=True, max_length=255)),
                ("label", models.CharField(blank=True, max_length=255)),
                (
                    "clever_section_id",
                    models.CharField(blank=True, max_length=24, verbose_name="Clever section ID"),
                ),
                ("linked_at", models.DateTimeField(blank=True, null=True)),
                ("first_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_launch_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="districts.district"
                    ),
                ),
                (
                    "linked_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="rostering.person",
                    ),
                ),
                (
                    "section",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="rostering.section",
                    ),
                ),
                (
                    "teachers_seen",
                    models.ManyToManyField(blank=True, related_name="+", to="rostering.person"),
                ),
            ],
            options={
                "verbose_name": "LMS course",
                "ordering": ["title", "pk"],
            },
        ),
        migrations.AddField(
            model_name="lmsaudit",
            name="course",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="audits",
                to="lms.lmscourse",
            ),
        ),
        migrations.AddConstraint(
            model_name="lmsaudit",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("assignment__isnull", False), ("course__isnull", True)),
                    models.Q(("assignment__isnull", True), ("course__isnull", False)),
                    _connector="OR",
                ),
                name="lms_audit_about_one_thing",
            ),
        ),
        migrations.AddConstraint(
            model_name="lmscourse",
            constraint=models.UniqueConstraint(
                fields=("district", "platform_guid", "deployment_id", "context_id"), name="lms_course_unique"
            ),
        ),
    ]
