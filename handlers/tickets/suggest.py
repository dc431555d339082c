"""The category a resident's free text is suggested, as a dependency: the conversation asks a
``CategorySuggester`` and shows its first category preselected (the resident can change it).

The composition root (``bot/app.py``) passes the real one (``storage.classifier``); until it
does, ``NoSuggestions`` preselects nothing and the resident picks the category.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class CategorySuggester(Protocol):
    async def rank(self, session: AsyncSession, text: str) -> list[str]:
        """Category codes (``storage.vocabulary.CATEGORY_QUEUES``), the likeliest first; empty
        when nothing fits. Unknown codes are ignored by the caller."""
        ...


class NoSuggestions:
    """Suggests nothing: the resident picks the category."""

    async def rank(self, session: AsyncSession, text: str) -> list[str]:
        return []
