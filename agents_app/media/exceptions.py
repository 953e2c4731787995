"""Errors of 3D generation and try-on (no HTTP here; devskyy.core.errors maps them)."""

from __future__ import annotations

from typing import Any

from devskyy.core.errors import ConflictError, DomainError, NotFoundError, ServiceUnavailableError


class FeatureDisabledError(ServiceUnavailableError):
    """ENABLE_3D_GENERATION=false: nothing is created or sent."""

    code = "feature_disabled"


class ProviderNotConfiguredError(ServiceUnavailableError):
    """The provider's API key is not set (the message names the variable)."""

    code = "provider_not_configured"


class MediaInputError(DomainError):
    """The request cannot become a job (unknown product, product without an image, ...)."""

    code = "invalid_media_input"


class MediaJobNotFoundError(NotFoundError):
    code = "media_job_not_found"


class MediaFileNotFoundError(NotFoundError):
    code = "media_file_not_found"


class MediaFilePurgedError(DomainError):
    """Retention deleted the stored file; its record (name, size, sha256) remains."""

    status_code = 410
    code = "media_file_purged"


class MediaJobNotCancellableError(ConflictError):
    code = "media_job_not_cancellable"


class MediaJobNotRetryableError(ConflictError):
    code = "media_job_not_retryable"


class ProviderError(DomainError):
    """A Tripo or FASHN call failed. ``transient``: the same call may succeed later;
    ``outcome_unknown``: a create may have reached the provider (do not resend blindly);
    ``retry_after``: seconds the provider asked us to wait."""

    status_code = 502
    code = "provider_error"
    transient = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        http_status: int | None = None,
        provider_code: str = "",
        attempts: int = 0,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(
            message,
            details={
                "provider": provider,
                "http_status": http_status,
                "provider_code": provider_code,
                "attempts": attempts,
                **extra,
            },
        )
        self.provider = provider
        self.http_status = http_status
        self.provider_code = provider_code
        self.attempts = attempts
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class ProviderPermanentError(ProviderError):
    """The provider understood and refused; the same request fails the same way again."""

    code = "provider_rejected"


class ProviderAuthError(ProviderPermanentError):
    code = "provider_auth_failed"


class ProviderCreditError(ProviderPermanentError):
    code = "provider_out_of_credit"


class ProviderTransientError(ProviderError):
    status_code = 503
    code = "provider_unavailable"
    transient = True
