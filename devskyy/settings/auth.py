"""Authentication: JWT (simplejwt + blacklist), API keys, login lockout (django-axes)."""

from __future__ import annotations

from datetime import timedelta

from devskyy.core.env import env

from .base import JWT_SECRET_KEY

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username/IP before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- JWT ------------------------------------------------------------------------------
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", 15, minimum=1, maximum=24 * 60)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", 7, minimum=1, maximum=365)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    # Every refresh returns a new refresh token and blacklists the old one; presenting
    # an old one again is reuse (devskyy/core/tokens.py revokes the whole family).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ISSUER": "devskyy",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 5,
    # Tokens carry a hash of the password hash: changing the password ends them.
    "CHECK_REVOKE_TOKEN": True,
    "CHECK_USER_IS_ACTIVE": True,
}

# --- API keys (djangorestframework-api-key, model devskyy.core.APIKey) ----------------
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"
# last_used_at is written at most this often per key (a cheap, conditional UPDATE).
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60
# Longest a web process trusts a key it verified without reading its row again; a
# revocation still applies from the next request on (devskyy/core/api_keys.py).
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# The same for a JWT's user and roles and its "not logged out" answer
# (devskyy/core/principal_cache.py); changes still apply from the next request on.
AUTH_CACHE_SECONDS = env.int("AUTH_CACHE_SECONDS", 60, minimum=0, maximum=3600)

# --- Login lockout (django-axes, database handler: shared by every worker) -----------
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=24 * 60)

AXES_ENABLED = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# Lock the pair (username, client IP): guessing one account from one place stops,
# and nobody can lock a user out from elsewhere. Spraying from one IP is held back by
# LOGIN_RATE_LIMIT_PER_MINUTE.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Failures during a lockout do not extend it (a locked user is not kept out forever).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "devskyy.core.net.client_ip_for_axes"
AXES_LOCKOUT_CALLABLE = "devskyy.core.authentication.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False  # our audit log records failures; axes' own lines would repeat them
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True
