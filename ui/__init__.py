"""The Gradio chat: `ui.chat.build_chat(engine, corpus)` builds it, `ui.chat.mount_chat` mounts it on
the HTTP app."""
