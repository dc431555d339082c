"""The staff side that no desk owns: the notices residents get when their ticket changes and the
signed links through which files reach them. The desks themselves are adapters in ``bot/``."""
