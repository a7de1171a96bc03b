"""One error hierarchy. Every error carries a one-sentence message a user can act on.

`hint` says how to fix it, `retryable` whether trying again may help; the CLI turns
any `SynthwrightError` into its message and `exit_code`, without a traceback.
"""

from __future__ import annotations


class SynthwrightError(Exception):
    """Base class: a problem a user can understand and fix."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(SynthwrightError):
    """Bad input: a recipe, a flag, a schema or a file the user gave us."""

    exit_code = 2


class EngineSpecError(ConfigError):
    """An engine spec that names no engine we know."""


class ModelNotFoundError(ConfigError):
    """A model path or id that cannot be found or loaded."""


class CredentialsError(ConfigError):
    """An API key that is not set, or that the provider refused."""


class SchemaError(ConfigError):
    """A sample schema that constrained decoding cannot guarantee to finish."""


class HardwareError(SynthwrightError):
    """The requested feature needs hardware this machine does not have (e.g. CUDA)."""

    exit_code = 3


class MissingExtraError(SynthwrightError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    exit_code = 3

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed;"
            f" install it with: pip install 'synthwright[{extra}]'."
        )
        self.package = package
        self.extra = extra


class EngineError(SynthwrightError):
    """A model call failed (network, server, rate limit); `retryable` says if retrying may help."""


class EndpointError(EngineError):
    """A model server or API that cannot be reached, so every call fails; it may come back (`retryable`)."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message, hint=hint, retryable=True)


class HubError(SynthwrightError):
    """Talking to the Hugging Face Hub failed: no token, no permission, no connection, a server error."""


def require(package: str, *, extra: str, feature: str):
    """Import an optional package, or raise MissingExtraError naming the extra."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingExtraError(package, extra, feature) from exc
