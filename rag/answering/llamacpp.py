"""A local GGUF model through llama-index's llama.cpp integration, with the model's own chat
template applied (optional extra: `make llamacpp`)."""

from __future__ import annotations

from collections.abc import Sequence

from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_index.core.llms import ChatMessage
from llama_index.llms.llama_cpp import LlamaCPP


def llamacpp_llm(
    *,
    model_path: str,
    context_window: int,
    max_new_tokens: int,
    temperature: float,
    threads: int = 1,
) -> LlamaCPP:
    llm = LlamaCPP(
        model_path=model_path,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        context_window=context_window,
        model_kwargs={"n_threads": threads},
        verbose=False,
    )
    model = llm._model
    template = model.metadata.get("tokenizer.chat_template")
    if template:
        eos, bos = model.token_eos(), model.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=model._model.token_get_text(eos) if eos != -1 else "",
            bos_token=model._model.token_get_text(bos) if bos != -1 else "",
        )

        def messages_to_prompt(messages: Sequence[ChatMessage]) -> str:
            chat = [{"role": m.role.value, "content": m.content or ""} for m in messages]
            return formatter(messages=chat).prompt  # type: ignore[arg-type]  # TypedDicts, same keys

        llm.messages_to_prompt = messages_to_prompt
    return llm
