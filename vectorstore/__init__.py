"""Vector store leaf: opens Chroma (embedded or server) and stores chunks with their metadata."""

from vectorstore.chroma import (
    ChunkStore,
    Hit,
    StoreError,
    StoreMismatch,
    StoreMissing,
    StoreUnavailable,
    drop_collection,
    open_store,
)
from vectorstore.lazy import open_store_lazily

__all__ = [
    "ChunkStore", "Hit", "StoreError", "StoreMismatch", "StoreMissing", "StoreUnavailable",
    "drop_collection", "open_store", "open_store_lazily",
]
