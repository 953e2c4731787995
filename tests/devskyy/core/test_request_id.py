"""Request ids: a client's well-formed id is echoed, otherwise a new unique one is made."""

from __future__ import annotations

import os
import re

from devskyy.core.context import new_request_id


def test_a_well_formed_client_id_is_kept_and_anything_else_replaced() -> None:
    assert new_request_id("trace-abc_1.2:3") == "trace-abc_1.2:3"
    for bad in ("", "has space", "x" * 129, "line\nbreak", "<script>"):
        made = new_request_id(bad)
        assert made != bad
        assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_new_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    made = [new_request_id(None) for _ in range(50_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in made)
    assert len(set(made)) == len(made)


def test_a_forked_worker_does_not_repeat_its_parents_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: as a gunicorn worker forked from its master
        os.write(write_end, ",".join(new_request_id(None) for _ in range(100)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child = set(pipe.read().split(","))
    parent = {new_request_id(None) for _ in range(100)}
    assert len(child) == 100
    assert not child & parent
