"""Vector store leaf: opens Chroma (embedded or server) and stores chunks with their metadata."""

from vectorstore.base import Hit, Store, StoreError, StoreMismatch, StoreMissing, StoreUnavailable
from vectorstore.chroma import ChunkStore
from vectorstore.lazy import LazyStore, open_store_lazily
from vectorstore.opening import drop_collection, open_store

__all__ = [
    "ChunkStore",
    "Hit",
    "LazyStore",
    "Store",
    "StoreError",
    "StoreMismatch",
    "StoreMissing",
    "StoreUnavailable",
    "drop_collection",
    "open_store",
    "open_store_lazily",
]
