"""Readers of the formats news arrives in besides plain text: saved web pages, RSS/Atom feeds, JSON Lines.

Each module has one `read_*(path, data) -> FileContents` that `rag.documents.FORMATS` dispatches to by
suffix; every text they find goes through `parse_document`, the one cleaning, so offsets stay verbatim.
"""
