"""factory_boy factories for LMS Connect's product records (tests, benchmarks, demos).

Pass ``section`` (a mirrored ``rostering.Section``) and ``student`` (a mirrored ``Person``): the
mirror comes from a real sync, never from a factory. Creating through a factory does not
enqueue a push; the services do.
"""

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from .models import Assignment, CleverAssignment, GradingType, Result, SyncPolicy


class AssignmentFactory(DjangoModelFactory):
    class Meta:
        model = Assignment
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Quiz {n + 1}")
    description = "Practice problems from the chapter."
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    points_possible = 10.0
    grading_type = GradingType.POINTS
    submission_types = factory.LazyFunction(lambda: ["text"])
    max_attempts = 1
    sync_policy = SyncPolicy.MANUAL
    clever = factory.RelatedFactory(
        "lms.factories.CleverAssignmentFactory", factory_related_name="assignment"
    )


class CleverAssignmentFactory(DjangoModelFactory):
    class Meta:
        model = CleverAssignment

    section_clever_id = factory.LazyAttribute(lambda o: o.assignment.section.clever_id)


class ResultFactory(DjangoModelFactory):
    class Meta:
        model = Result

    points = factory.Sequence(lambda n: float(5 + n % 6))
    status = Result.Status.APPROVED
    source = Result.Source.AUTO
    approved_at = factory.LazyFunction(timezone.now)
