"""The spec's errors: a list of ``{code, description}`` with the HTTP status as the code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    code: int
    description: str


class Open311Error(Exception):
    """Answered as the spec's error list with ``status``; each problem names a field."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(status, descriptions)
        self.status = status
        self.problems = tuple(Problem(status, text) for text in descriptions)


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)


def forbidden() -> Open311Error:
    return Open311Error(403, "api_key is not valid")


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)
