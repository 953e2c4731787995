"""Fault injection for R3, loaded only by a test worker whose PYTHONPATH names this folder.

kombu's Redis transport takes a message off the queue (BRPOP) and records it as
unacknowledged in a second call (``QoS.append``). A worker killed between the two loses
the message. This widens that real window by ``DEVSKYY_TEST_KOMBU_APPEND_DELAY`` seconds
so a test can kill the worker inside it on purpose; nothing else in kombu changes.
"""

import os
import time

_DELAY = float(os.environ.get("DEVSKYY_TEST_KOMBU_APPEND_DELAY") or 0)

if _DELAY > 0:
    from kombu.transport import redis as _redis_transport

    _append = _redis_transport.QoS.append

    def _append_late(self: _redis_transport.QoS, message: object, delivery_tag: str) -> None:
        time.sleep(_DELAY)
        _append(self, message, delivery_tag)

    setattr(_redis_transport.QoS, "append", _append_late)  # noqa: B010 - a method replaced on purpose
