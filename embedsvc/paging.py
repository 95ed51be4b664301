"""Page tokens and following pages: one definition for the services and the client."""

from __future__ import annotations

from collections.abc import Callable

from embedsvc.errors import InvalidArgument
from embedsvc.types import Page, T

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {requested}", "page_size"
        )
    return requested or DEFAULT_PAGE_SIZE


def after_id(page_token: str) -> int:
    """The row id a page token continues after (tokens are ids this server issued)."""
    if not page_token:
        return 0
    if not (page_token.isascii() and page_token.isdigit() and len(page_token) <= 18):
        raise InvalidArgument(
            "page_token is not one this server issued; pass next_page_token", "page_token"
        )
    return int(page_token)


def page_of(rows: list[tuple[int, T]], size: int) -> Page[T]:
    """A page from up to ``size + 1`` (row id, item) rows: the extra one says more follow."""
    token = str(rows[size - 1][0]) if len(rows) > size else ""
    return Page([item for _, item in rows[:size]], token)


def all_pages(fetch: Callable[[str], Page[T]]) -> list[T]:
    """Every item, following ``next_page_token`` from the first page to the last."""
    items: list[T] = []
    token = ""
    while True:
        page = fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            return items
