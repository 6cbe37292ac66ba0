"""Command line front end: `rag ingest`, `rag ask`, `rag serve`, `rag eval`."""
