"""Signal receivers: thin hooks that hand Django's auth signals to core services.

Django's ``user_login_failed`` is the one place that sees failures of every login
path (the token endpoint and the admin login form alike), so the audit row and the
``login_failed`` counter are written here, not in each view.

Any saved or deleted API key, user or group row, and any change of a user's groups,
bumps the ``auth`` version, so processes stop trusting the keys, users and roles
they remembered (core/api_keys.py, core/principal_cache.py).

Every new PostgreSQL connection gets the wrapper that keeps prepared statements
working across a schema change (core/prepared.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_login_failed
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from devskyy.core import prepared, versions
from devskyy.core.audit import security_event
from devskyy.core.metrics import SecurityEvent
from devskyy.core.models import APIKey


@receiver(connection_created, dispatch_uid="devskyy.core.prepared_statements")
def _connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    prepared.install(connection)  # prepared statements outlive a schema change (core/prepared.py)


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


@receiver(post_save, sender=APIKey, dispatch_uid="devskyy.core.api_key_saved")
@receiver(post_delete, sender=APIKey, dispatch_uid="devskyy.core.api_key_deleted")
@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="devskyy.core.user_saved")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="devskyy.core.user_deleted")
@receiver(post_save, sender=Group, dispatch_uid="devskyy.core.group_saved")
@receiver(post_delete, sender=Group, dispatch_uid="devskyy.core.group_deleted")
@receiver(m2m_changed, sender=get_user_model().groups.through, dispatch_uid="devskyy.core.user_groups_changed")
def _credentials_changed(sender: Any, **kwargs: Any) -> None:
    versions.bump(versions.AUTH)
