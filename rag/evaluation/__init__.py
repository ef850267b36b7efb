"""Measuring retrieval and answers against the gold question set and the PIAF benchmark (`rag eval`)."""
