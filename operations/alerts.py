"""Alerts to support staff: one message per change of state, by email and an optional webhook.

**One message per change of state.** Every alert is about a subject ("district:12",
"assignment:7", "nightly") for one kind (``AlertKind``: a held sync, failing syncs, a district
that stopped sharing, the nightly that did not run, an LMS assignment in an unknown state). Its
``AlertState`` remembers the subject's last state; ``notify`` sends only when the state changes
to a new one other than ``ok`` (a second hold of a district whose first still waits sends
nothing; a district revoked then disconnected sends two), and ``resolve`` puts it back to ``ok``
without a message (the next problem is news again). The state changes in a transaction with a
row lock, so two workers failing at once send one message.

**Delivery** (``ALERT_MODE``): ``immediate`` (the default) sends at once, in the process that
noticed (the alerting path does not depend on the Celery queue it may be alerting about); the
email goes to ``ALERT_EMAILS`` or, when that is empty, to every active member of the Support group
with an email; the webhook (``ALERT_WEBHOOK_URL``, a Slack-compatible ``{"text": ...}`` POST with
``ALERT_WEBHOOK_TIMEOUT``) is optional. ``digest`` records the alerts and ``send_digest`` (a
daily beat task) sends them in one email and one webhook post. A failing mail server or webhook
is logged (never the webhook's URL: it is a secret) and recorded on the ``Alert``; it never
raises into the code that noticed the problem.

**What an alert may say.** District names, counts, IDs, statuses and links to the admin page
where the problem is resolved (``APP_BASE_URL`` + the admin's URL); never a person's name, email
or grade, never a hold's sample records, never a run's raw error text (a database error can
quote a row): causes are said in fixed words (``rostering.presentation``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from core.admin import SUPPORT_GROUP

from .models import OK, Alert, AlertState

logger = logging.getLogger(__name__)

IMMEDIATE, DIGEST = "immediate", "digest"
MODES = (IMMEDIATE, DIGEST)
SUBJECT_PREFIX = "[Clever bridge] "


@dataclass(frozen=True)
class Notice:
    """An alert to send if its subject's state changed: ``template`` (under
    ``operations/alerts/``) is rendered with ``context`` and ``url`` for the body."""

    kind: str
    subject: str
    state: str
    title: str
    template: str
    url: str
    context: dict = field(default_factory=dict)


def admin_url(viewname: str, *args, **query) -> str:
    """The absolute address of an admin page (``APP_BASE_URL`` + its path, and a filter)."""
    path = reverse(viewname, args=args)
    return f"{settings.APP_BASE_URL}{path}" + (f"?{urlencode(query)}" if query else "")


def _change_state(kind: str, subject: str, state: str) -> bool:
    """Record ``subject``'s state; True when it changed (a new row counts as a change from ok)."""
    now = timezone.now()
    with transaction.atomic():
        row = AlertState.objects.select_for_update().filter(kind=kind, subject=subject).first()
        if row is None:
            try:
                with transaction.atomic():
                    AlertState.objects.create(kind=kind, subject=subject, state=state, changed_at=now)
                return state != OK
            except IntegrityError:  # created meanwhile by another process
                row = AlertState.objects.select_for_update().get(kind=kind, subject=subject)
        if row.state == state:
            return False
        row.state, row.changed_at = state, now
        row.save(update_fields=["state", "changed_at"])
        return True


def resolve(kind: str, subject: str) -> bool:
    """The problem is over: the subject is ``ok`` again (no message). True when it was not."""
    if not AlertState.objects.filter(kind=kind, subject=subject).exclude(state=OK).exists():
        return False
    return _change_state(kind, subject, OK)


def notify(notice: Notice) -> Alert | None:
    """Send ``notice`` (or keep it for the digest) when its subject's state changed; None when
    it did not (the same problem, already told)."""
    if notice.state == OK:
        resolve(notice.kind, notice.subject)
        return None
    body = render_to_string(f"operations/alerts/{notice.template}", {**notice.context, "url": notice.url})
    digest = settings.ALERT_MODE == DIGEST
    with transaction.atomic():  # the new state and its alert, or neither
        if not _change_state(notice.kind, notice.subject, notice.state):
            return None
        alert = Alert.objects.create(
            kind=notice.kind,
            subject=notice.subject,
            state=notice.state,
            title=notice.title[:200],
            body=body.strip() + "\n",
            url=notice.url,
            delivery={"digest": True} if digest else {},
        )
    if digest:
        return alert
    delivery = deliver(alert.title, alert.body)
    alert.sent_at = timezone.now()
    alert.delivery = delivery
    alert.save(update_fields=["sent_at", "delivery"])
    AlertState.objects.filter(kind=alert.kind, subject=alert.subject).update(last_sent_at=alert.sent_at)
    return alert


# --- delivery ------------------------------------------------------------------------------


def recipients() -> list[str]:
    """``ALERT_EMAILS``, or every active member of the Support group with an email."""
    if settings.ALERT_EMAILS:
        return list(dict.fromkeys(settings.ALERT_EMAILS))
    emails = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=SUPPORT_GROUP)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(emails)


def send_email(title: str, body: str) -> int:
    """Email support staff; returns how many recipients it went to (0: nobody, or it failed)."""
    to = recipients()
    if not to:
        logger.warning(
            "alert %r not emailed: no recipient (ALERT_EMAILS, or Support staff with an email)", title
        )
        return 0
    message = EmailMessage(
        # One line: a district's name comes from its SIS, and a line break in a subject would
        # make Django refuse the message (an alert a district could silence by naming itself).
        subject=f"{SUBJECT_PREFIX}{' '.join(title.split())}"[:250],
        body=body,
        from_email=settings.ALERT_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    try:
        message.send()
    except Exception as exc:
        logger.error("alert %r: the email could not be sent (%s)", title, type(exc).__name__)
        return 0
    return len(to)


def _slack_escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup: escape them, as it asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_webhook(text: str) -> str:
    """POST ``{"text": text}`` to ``ALERT_WEBHOOK_URL``: "sent", "failed" or "off" (no URL).
    Never raises; logs the failure's type and status only (the URL is a secret)."""
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        return "off"
    try:
        response = requests.post(
            url, json={"text": _slack_escape(text)}, timeout=settings.ALERT_WEBHOOK_TIMEOUT
        )
        if response.status_code >= 300:
            logger.error("alert webhook answered HTTP %s", response.status_code)
            return "failed"
    except Exception as exc:
        logger.error("alert webhook failed: %s", type(exc).__name__)
        return "failed"
    return "sent"


def deliver(title: str, body: str) -> dict:
    """Email and webhook; what each did (``Alert.delivery``)."""
    return {"emails": send_email(title, body), "webhook": post_webhook(f"{title}\n\n{body}")}


def send_digest() -> dict | None:
    """Send every alert still waiting (``ALERT_MODE=digest``) in one email and one webhook post;
    returns ``{"count", "title", "body", "delivery"}`` (None when nothing waited). Says which
    problems were resolved (or changed) since their alert."""
    waiting = list(Alert.objects.filter(sent_at__isnull=True).order_by("created_at", "id"))
    if not waiting:
        return None
    now = timezone.now()
    states = {
        (kind, subject): state
        for kind, subject, state in AlertState.objects.filter(
            subject__in={alert.subject for alert in waiting}
        ).values_list("kind", "subject", "state")
    }
    items = [{"alert": alert, "now": states.get((alert.kind, alert.subject), OK)} for alert in waiting]
    count = len(waiting)
    title = f"Daily summary: {count} alert{'s' if count != 1 else ''} for support"
    body = render_to_string("operations/alerts/digest.txt", {"items": items, "count": count}).strip() + "\n"
    delivery = deliver(title, body)
    Alert.objects.filter(pk__in=[alert.pk for alert in waiting]).update(
        sent_at=now, delivery={**delivery, "digest": True}
    )
    for alert in waiting:
        AlertState.objects.filter(kind=alert.kind, subject=alert.subject).update(last_sent_at=now)
    logger.info("alert digest sent: %s alerts", count)
    return {"count": count, "title": title, "body": body, "delivery": delivery}
