"""Maintenance services behind the `purge_tasks` and `warm_cache` commands."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from agents_app.llm import cache as llm_cache
from agents_app.models import FINAL_STATUSES, AgentTask
from commerce_app.models import Product
from devskyy.core.audit import audit_record
from devskyy.core.errors import DomainError, ServiceUnavailableError

_DURATION = re.compile(r"^(?P<amount>\d{1,6})(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PURGE_BATCH = 1000


class InvalidDurationError(DomainError):
    code = "invalid_duration"


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w`` as a positive timedelta; anything else raises."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidDurationError(
            f"Invalid duration {text!r}: use a whole number and a unit m, h, d or w (e.g. 30d, 12h)."
        )
    amount = int(match["amount"])
    if amount == 0:
        raise InvalidDurationError(f"Invalid duration {text!r}: it must be longer than zero.")
    return timedelta(**{_UNITS[match["unit"]]: amount})


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    by_status: dict[str, int]
    dry_run: bool

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def tasks_purge_finished(*, older_than: timedelta, dry_run: bool = False) -> PurgeResult:
    """Delete completed, failed and cancelled tasks that finished before now - ``older_than``.

    Pending and running tasks are never touched. Deletes in batches (short
    transactions on a big table) and writes one audit row with the counts.
    """
    if older_than <= timedelta(0):
        raise InvalidDurationError("older_than must be positive.")
    cutoff = timezone.now() - older_than
    finished = AgentTask.objects.filter(status__in=FINAL_STATUSES).filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    )
    by_status = {row["status"]: row["n"] for row in finished.order_by().values("status").annotate(n=Count("id"))}
    if dry_run:
        return PurgeResult(cutoff=cutoff, by_status=by_status, dry_run=True)
    deleted: dict[str, int] = {}
    while True:
        with transaction.atomic():
            batch = list(finished.order_by().values_list("pk", "status")[:_PURGE_BATCH])
            if not batch:
                break
            AgentTask.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
        for _, status in batch:
            deleted[status] = deleted.get(status, 0) + 1
    audit_record(
        action="tasks.purged",
        actor_label="system",
        target_type="agent_task",
        details={"cutoff": cutoff.isoformat(), "deleted": deleted},
    )
    return PurgeResult(cutoff=cutoff, by_status=deleted, dry_run=False)


@dataclass
class WarmReport:
    backend: str
    steps: list[str] = field(default_factory=list)
    shared: bool = True


def cache_warm() -> WarmReport:
    """Fill what the platform caches ahead of the first requests, and say what was done.

    What is cached today (read from the code): LLM answers (keyed on the exact request,
    so they cannot be prepared ahead), revoked access tokens (written on logout), the
    gateway's breaker and budget state (written by calls), and one *version token* per
    product that keys every LLM answer built from that product (agents_app.llm.cache).
    Warming therefore (1) checks the cache answers a write and a read, and (2) creates
    the missing product version tokens, so the first LLM calls about each product
    need no extra round trip. Raises ServiceUnavailableError when the cache cannot
    hold a value (Redis down, cache switched off).
    """
    cache = caches["default"]
    report = WarmReport(backend=f"{type(cache).__module__}.{type(cache).__name__}")
    if isinstance(cache, DummyCache):
        raise ServiceUnavailableError("The cache is switched off (ENABLE_CACHE=false): there is nothing to warm.")
    if isinstance(cache, LocMemCache):
        report.shared = False
        report.steps.append(
            "cache is this process's local memory (embedded mode): a command cannot warm the server's cache; "
            "nothing done"
        )
        return report
    probe_key, token = "devskyy:warm:probe", secrets.token_hex(8)
    started = time.perf_counter()
    cache.set(probe_key, token, 30)
    answered = cache.get(probe_key)
    cache.delete(probe_key)
    if answered != token:
        raise ServiceUnavailableError("The cache did not return a value just written to it: is Redis reachable?")
    report.steps.append(
        f"cache round trip ok ({(time.perf_counter() - started) * 1000:.1f} ms for write, read, delete)"
    )
    if not llm_cache.enabled():
        report.steps.append(f"LLM response cache is off (LLM_CACHE_TTL={settings.LLM_CACHE_TTL}): no product tokens")
        return report
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    existing = len(cache.get_many([llm_cache._version_key(pid) for pid in product_ids])) if product_ids else 0
    if product_ids and llm_cache.product_versions(product_ids) is None:
        raise ServiceUnavailableError("The cache refused the product version tokens: is Redis reachable?")
    report.steps.append(
        f"product version tokens: {len(product_ids)} product(s), {len(product_ids) - existing} created, "
        f"{existing} already present (TTL {int(settings.LLM_CACHE_TTL) * 2} s)"
    )
    return report
