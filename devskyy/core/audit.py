"""The audit trail and security events: one way in for each.

``audit_record`` writes one ``AuditLog`` row. ``security_event`` counts
``security_events_total{event_type}`` and writes the matching audit row. Both take
the request id from the request context, so a row leads to the request's log lines.
Secrets never go into ``details``: callers pass names, prefixes and reasons only.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DatabaseError, transaction
from django.http import HttpRequest

from devskyy.core.context import current_request_id
from devskyy.core.metrics import SecurityEvent, record_security_event
from devskyy.core.models import AuditLog
from devskyy.core.net import client_ip

logger = logging.getLogger(__name__)

SECURITY_ACTIONS: dict[SecurityEvent, str] = {
    SecurityEvent.LOGIN_FAILED: "auth.login.failed",
    SecurityEvent.THROTTLED: "ratelimit.throttled",
    SecurityEvent.REFRESH_REUSE: "auth.refresh.reused",
    SecurityEvent.WS_DENIED: "ws.connect.denied",
    SecurityEvent.WS_SUBSCRIBE_DENIED: "ws.subscribe.denied",
    SecurityEvent.BAD_WEBHOOK_SIGNATURE: "webhook.signature.invalid",
    SecurityEvent.SSRF_BLOCKED: "ssrf.blocked",
    SecurityEvent.RATE_LIMITER_UNAVAILABLE: "ratelimit.unavailable",
}


def principal_label(principal: Any) -> str:
    """``user:<username>``, ``api_key:<prefix>`` or ``anonymous``."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return "anonymous"
    label = getattr(principal, "audit_label", None)
    if isinstance(label, str):
        return label
    return f"user:{principal.get_username()}"


def _user_or_none(principal: Any) -> Any:
    """The principal if it is a saved user (API key principals have no user row)."""
    if isinstance(principal, AbstractBaseUser) and principal.pk is not None:
        return principal
    return None


def audit_record(
    *,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: str | int = "",
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Append one audit row. ``actor`` may be a user, an API key principal or None."""
    if request is not None:
        if ip is None:
            ip = client_ip(getattr(request, "_request", request))
        if actor is None:
            # Only a user already resolved on the request: never trigger authentication here.
            actor = getattr(request, "_cached_user", None) or getattr(request, "_user", None)
    if isinstance(actor, AnonymousUser):
        actor = None
    return AuditLog.objects.create(
        actor=_user_or_none(actor),
        actor_label=(actor_label or principal_label(actor))[:150],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:150],
        request_id=current_request_id() if current_request_id() != "-" else "",
        ip=ip,
        details=details or {},
    )


def security_event(
    *,
    event_type: SecurityEvent,
    request: HttpRequest | None = None,
    actor: Any = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: str | int = "",
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Count a security event and write its audit row.

    The counter always moves; if the database cannot take the audit row (it is down),
    the event is logged instead and the caller's refusal still goes out.
    """
    record_security_event(event_type)
    try:
        with transaction.atomic():  # a savepoint: a failure here cannot spoil the caller's transaction
            audit_record(
                action=SECURITY_ACTIONS[event_type],
                actor=actor,
                actor_label=actor_label,
                target_type=target_type,
                target_id=target_id,
                ip=ip,
                details=details,
                request=request,
            )
    except DatabaseError as exc:
        logger.warning("security event %s not written to the audit log: %s", event_type.value, type(exc).__name__)
