"""Signal receivers: thin hooks that hand Django's auth signals to core services.

Django's ``user_login_failed`` is the one place that sees failures of every login
path (the token endpoint and the admin login form alike), so the audit row and the
``login_failed`` counter are written here, not in each view.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from devskyy.core.audit import security_event
from devskyy.core.metrics import SecurityEvent


@receiver(user_login_failed, dispatch_uid="devskyy.core.login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Django has already masked secret-looking keys in ``credentials``; keep only the username.
    username = str(credentials.get("username", ""))[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    security_event(
        event_type=SecurityEvent.LOGIN_FAILED,
        request=request,
        actor_label=f"user:{username}" if username else "anonymous",
        target_type="user",
        target_id=username,
        details={"locked_out": locked, "path": getattr(request, "path", "")[:150]},
    )
