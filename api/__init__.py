"""The HTTP API: a FastAPI app around one engine (`create_app`), OpenAI-compatible as well."""

from api.app import create_app

__all__ = ["create_app"]
