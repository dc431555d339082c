"""The category a resident's free text is suggested, as a dependency: the conversation asks a
``CategorySuggester`` and shows its first category preselected (the resident can change it).

The composition root (``bot/app.py``) passes ``KeywordSuggester`` (``storage.classifier``: the
administrators' keyword lists over lemmatised words); ``NoSuggestions`` preselects nothing.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from storage import classifier


class CategorySuggester(Protocol):
    async def rank(self, session: AsyncSession, text: str) -> list[str]:
        """Category codes (``storage.vocabulary.CATEGORY_QUEUES``), the likeliest first; empty
        when nothing fits. Unknown codes are ignored by the caller."""
        ...


class NoSuggestions:
    """Suggests nothing: the resident picks the category."""

    # The CategorySuggester protocol's signature; nothing is looked at.
    async def rank(self, session: AsyncSession, text: str) -> list[str]:  # noqa: ARG002
        return []


class KeywordSuggester:
    """The keyword lists' ranking; nothing when no term matched (the resident picks)."""

    async def rank(self, session: AsyncSession, text: str) -> list[str]:
        suggestion = await classifier.suggest(session, text)
        return [item.category for item in suggestion.ranked] if suggestion.matched else []
