"""Stored feed events: what a reconnecting WebSocket client can resume from."""

from __future__ import annotations

from django.db import models


class FeedEvent(models.Model):
    """One event sent on a WebSocket channel, kept for EVENT_RETENTION_HOURS.

    ``seq`` is global and assigned under a lock in commit order (core/events.py), so a
    client that has seen ``seq`` N has seen, or may fetch, everything before it.
    ``owner_id`` limits who may see the event (``None``: every authenticated user;
    otherwise that user and staff). ``agent_id``/``task_id`` drive subscribe filters.
    """

    seq = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=32)
    type = models.CharField(max_length=48)
    agent_id = models.CharField(max_length=64, blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")
    owner_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["channel", "seq"], name="feed_channel_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.channel}/{self.type}"
