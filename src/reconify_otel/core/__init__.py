"""The pure core: a finished span record in, a Reconify payload out. No I/O here."""
