"""小申 knowledge base: service guides, their schema, normalisation and search backends."""
