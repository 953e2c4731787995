"""HTTP hardening, CORS, REST framework defaults and rate limits."""

from __future__ import annotations

from devskyy.core.env import env

from .base import DEBUG, IS_PRODUCTION

# --- CORS (django-cors-headers); regexes must be anchored, see core/env.py ----------
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ORIGINS",
    [
        "https://app.devskyy.app",
        "https://api.devskyy.app",
        "https://devskyy-dashboard.vercel.app",
        "http://localhost:3000",
    ],
)
CORS_ALLOWED_ORIGIN_REGEXES = env.regex_list(
    "CORS_ORIGIN_REGEXES",
    [
        r"^https://[a-z0-9-]+\.devskyy\.app$",
        r"^https://devskyy-[a-z0-9-]+-skyyroseco\.vercel\.app$",
    ],
)
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
CORS_ALLOW_HEADERS = [
    "content-type",
    "authorization",
    "x-request-id",
    "accept",
    "accept-language",
    "content-language",
]
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "X-Response-Time",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
CORS_ALLOW_CREDENTIALS = True
CORS_PREFLIGHT_MAX_AGE = 600

# --- Transport and headers ---------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
if IS_PRODUCTION:
    # Render (and most PaaS) terminate TLS at a proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^live$", r"^metrics"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Number of reverse proxies in front of us whose X-Forwarded-For entries we trust.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 1 if IS_PRODUCTION else 0, minimum=0, maximum=10)

# --- Rate limits (enforced through Redis across workers; devskyy/core/ratelimit.py) --
RATE_LIMIT_PER_MINUTE = env.int("RATE_LIMIT_PER_MINUTE", 60, minimum=1)
RATE_LIMIT_PER_HOUR = env.int("RATE_LIMIT_PER_HOUR", 1000, minimum=1)
# Length of the short ("per minute") window. 60 in production; tests shorten it so a
# window can end without sleeping a minute.
RATE_LIMIT_WINDOW_SECONDS = env.int("RATE_LIMIT_WINDOW_SECONDS", 60, minimum=1, maximum=60)
# Stricter limit on the token endpoint, per client IP (credential guessing).
LOGIN_RATE_LIMIT_PER_MINUTE = env.int("LOGIN_RATE_LIMIT_PER_MINUTE", 10, minimum=1)

# --- Metrics endpoint protection ----------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", "")

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header makes "no credentials" a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "devskyy.core.authentication.JWTAuthentication",
        "devskyy.core.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Authenticated, and the role must allow the method (devskyy/core/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "devskyy.core.permissions.RolePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": (
        ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"]
        if DEBUG
        else ["rest_framework.renderers.JSONRenderer"]
    ),
    "DEFAULT_PARSER_CLASSES": ["devskyy.core.parsers.JSONParser"],
    # DRF's negotiation with the common Accept values answered directly (core/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "devskyy.core.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "devskyy.core.schema.APIAutoSchema",
    "EXCEPTION_HANDLER": "devskyy.core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DevSkyy API",
    "DESCRIPTION": "AI agents, tasks, commerce and platform operations for the DevSkyy brand.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["devskyy.core.permissions.PublicRoutePermission"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "Role": "devskyy.core.roles.ROLE_CHOICES",
        "ProductStatus": "commerce_app.models.ProductStatus",
        "OrderStatus": "commerce_app.models.OrderStatus",
        "BulkItemStatus": "commerce_app.api.serializers.BULK_ITEM_STATUSES",
        "TaskStatusEnum": "agents_app.models.TaskStatus.choices",
        "RoundTableStatusEnum": "agents_app.llm.models.RoundTableStatus.choices",
        "WorkflowStatusEnum": "agents_app.models.WorkflowStatus.choices",
        "StepStatusEnum": "agents_app.models.StepStatus.choices",
        "FailurePolicyEnum": "agents_app.models.FailurePolicy.choices",
    },
}
