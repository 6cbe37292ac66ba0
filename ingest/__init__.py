"""Ingestion: load the articles, chunk them, embed them and sync them into the vector store."""
