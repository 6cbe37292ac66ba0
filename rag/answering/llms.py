"""LLM clients built from settings through llama-index: an OpenAI-compatible endpoint (Ollama, vLLM,
llama.cpp server, OpenAI, Mistral...) or a local GGUF file (optional `llamacpp` extra)."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.llms import LLM

from rag.errors import ConfigError
from rag.settings import Settings


def build_llm(settings: Settings) -> LLM:
    if settings.answerer == "openai":
        return _openai_like(settings, "RAG_ANSWERER=openai")
    if settings.answerer == "local":
        if not settings.llm_base_url:
            raise ConfigError(
                "RAG_ANSWERER=local needs its llama.cpp server: `rag serve`, `rag ask` and `rag eval` "
                "start it (rag.llm_server.local_llm)."
            )
        return _openai_like(settings, "RAG_ANSWERER=local")
    if settings.answerer == "llamacpp":
        return _llamacpp(settings)
    raise ConfigError(f"No LLM for the answerer {settings.answerer!r}.")


def build_judge_llm(settings: Settings) -> LLM:
    """The OpenAI-compatible endpoint of the settings as an eval judge, whatever the answerer;
    at temperature 0, so that a rerun asks the same question the same way."""
    return _openai_like(settings, "rag eval --judge", temperature=0.0)


def _openai_like(settings: Settings, purpose: str, *, temperature: float | None = None) -> LLM:
    if not settings.llm_base_url or not settings.llm_model:
        raise ConfigError(
            f"{purpose} needs RAG_LLM_BASE_URL (an OpenAI-compatible /v1 endpoint) and RAG_LLM_MODEL."
        )
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() or "no-key",
        timeout=settings.llm_timeout_s,
        max_retries=0,  # the circuit breaker and the extractive fallback handle failures
        temperature=settings.llm_temperature if temperature is None else temperature,
        max_tokens=settings.llm_max_tokens,
        context_window=settings.llm_context_window,
        is_chat_model=True,
        is_function_calling_model=False,
    )


def _llamacpp(settings: Settings) -> LLM:
    path = Path(settings.llm_gguf)
    if not settings.llm_gguf or not path.is_file():
        raise ConfigError("RAG_ANSWERER=llamacpp needs RAG_LLM_GGUF, the path of a .gguf model file.")
    try:
        from rag.answering.llamacpp import llamacpp_llm
    except ImportError as exc:
        raise ConfigError("RAG_ANSWERER=llamacpp needs the optional extra: run `make llamacpp`.") from exc
    return llamacpp_llm(
        model_path=str(path),
        context_window=settings.llm_context_window,
        max_new_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )
