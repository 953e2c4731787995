"""3D generation (Tripo) and virtual try-on (FASHN) as agent tools.

Each tool creates the same job the API creates (agents_app.media.services.jobs) and
returns at once with the job's id and status URL: the job runs on the queue by
itself, announces its progress as ``pipeline_update`` events (subscribers of this
agent task see them) and stores its files for download. The job belongs to the user
who requested the agent task (staff only when an API key requested it).
"""

from __future__ import annotations

from typing import Any

from agents_app.exceptions import ToolError
from agents_app.media.models import MediaJob, MediaKind
from agents_app.media.options import TRIPO_OPTIONS, TRIPO_PROMPT_MAX
from agents_app.media.services.jobs import TRYON_CATEGORIES, JobSpec, media_job_create
from agents_app.models import AgentTask
from agents_app.tools.base import ToolContext, register
from agents_app.tools.integrations import require
from commerce_app.models import Product

_URL = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000}


def _requester(ctx: ToolContext) -> Any:
    if not ctx.task_id:
        return None
    task = AgentTask.objects.select_related("requested_by").filter(pk=ctx.task_id).first()
    return task.requested_by if task is not None else None


def _product_id(sku: str | None) -> int | None:
    if not sku:
        return None
    pk = Product.objects.filter(sku=sku).values_list("pk", flat=True).first()
    if pk is None:
        raise ToolError(f"No product with SKU {sku!r}.", details={"sku": sku})
    return int(pk)


def _result(job: MediaJob) -> dict[str, Any]:
    path = "tryon" if job.kind == MediaKind.TRYON else "3d/jobs"
    return {
        "job_id": str(job.pk),
        "kind": job.kind,
        "provider": job.provider,
        "status": job.status,
        "product_id": job.product_id,
        "status_url": f"/api/v1/media/{path}/{job.pk}",
        "events": "pipeline_update on /ws/3d_pipeline",
    }


@register(
    "generate_3d_model",
    description="Start a Tripo 3D model job from a text prompt, an image URL or a product's image (by SKU); "
    "returns the job id to follow (the .glb is stored for download when it finishes).",
    category="creative",
    requires=("tripo",),
    schema={
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "maxLength": TRIPO_PROMPT_MAX},
            "image_url": _URL,
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "options": TRIPO_OPTIONS,
        },
        "anyOf": [{"required": ["prompt"]}, {"required": ["image_url"]}, {"required": ["sku"]}],
    },
)
def generate_3d_model(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("tripo")
    product_id = _product_id(params.get("sku"))
    options = params.get("options", {})
    if params.get("prompt") and not params.get("image_url"):
        spec = JobSpec.text_to_model(prompt=params["prompt"], options=options, product_id=product_id)
    else:
        spec = JobSpec.image_to_model(image_url=params.get("image_url"), options=options, product_id=product_id)
    created = media_job_create(
        spec=spec, principal=_requester(ctx), agent_slug=ctx.agent_slug, agent_task_id=ctx.task_id or ""
    )
    ctx.checkpoint(100)
    return _result(created.job)


@register(
    "virtual_tryon",
    description="Start a FASHN virtual try-on job: a garment (image URL, or a product's image by SKU) on a model "
    "photo; returns the job id to follow (result images are stored for download).",
    category="creative",
    requires=("fashn",),
    schema={
        "properties": {
            "model_image_url": _URL,
            "garment_image_url": _URL,
            "sku": {"type": "string", "minLength": 1, "maxLength": 64},
            "category": {"type": "string", "enum": list(TRYON_CATEGORIES)},
        },
        "required": ["model_image_url"],
        "anyOf": [{"required": ["garment_image_url"]}, {"required": ["sku"]}],
    },
)
def virtual_tryon(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    require("fashn")
    principal = _requester(ctx)
    spec = JobSpec.tryon(
        model_image_url=params["model_image_url"],
        garment_image_url=params.get("garment_image_url"),
        category=params.get("category", "auto"),
        options={},
        product_id=_product_id(params.get("sku")),
    )
    created = media_job_create(
        spec=spec, principal=principal, agent_slug=ctx.agent_slug, agent_task_id=ctx.task_id or ""
    )
    ctx.checkpoint(100)
    return _result(created.job)
