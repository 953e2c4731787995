"""PERF P1's comparison point: the old service's stack serving the same rows.

FastAPI + an asyncpg pool under gunicorn with uvicorn workers, reading the agent
registry table DevSkyy's migrations create, returned as JSON. No auth, no
middleware: it is the ceiling the old stack reached, not a product.

    gunicorn bench.fastapi_baseline.app:app -k uvicorn_worker.UvicornWorker -w 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI

DSN = os.environ["BENCH_DSN"]
_pool: asyncpg.Pool | None = None


async def _decode_json(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(DSN, min_size=2, max_size=10, init=_decode_json)
    yield
    await _pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/live")
async def live() -> dict[str, bool]:
    return {"alive": True}


@app.get("/api/v1/agents")
async def agents() -> list[dict[str, Any]]:
    assert _pool is not None
    rows = await _pool.fetch(
        "SELECT slug, type, name, description, status, capabilities, tools, ml_models FROM agents_app_agent ORDER BY slug"
    )
    return [
        {
            "id": row["slug"],
            "type": row["type"],
            "name": row["name"],
            "description": row["description"],
            "status": row["status"],
            "capabilities": row["capabilities"],
            "tools": row["tools"],
            "mlModels": row["ml_models"],
        }
        for row in rows
    ]
