"""List pages: ``limit``/``continue`` until the server says there is no more, with a cap on pages and on
objects, and a fresh start when a continue token expires (410 Gone, after etcd compacted its version)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from pulldoctor.errors import ApiBadResponse, ApiGone
from pulldoctor.kubeapi.transport import KubeApi

T = TypeVar("T")

#: A decoded page: (items, the list's resourceVersion, the continue token; "" on the last page).
Page = tuple[Sequence[T], str, str]


def pages(api: KubeApi, path: str, query: Sequence[tuple[str, str]], decode: Callable[[bytes], Page[T]], *,
          page_size: int, cap: int, max_pages: int, what: str) -> Iterator[Page[T]]:
    """Each page of one listing of ``path``, decoded; raises ``ApiGone`` when the token expires midway
    (the caller lists again: the pages it has are no longer one consistent list) and ``ApiBadResponse``
    after ``max_pages`` pages. ``what`` names the objects in errors ("pods")."""
    token = ""
    for _ in range(max_pages):
        page_query = [*query, ("limit", str(max(1, page_size)))]
        if token:
            page_query.append(("continue", token))
        page = decode(api.get(path, page_query, cap=cap))
        yield page
        token = page[2]
        if not token:
            return
    raise ApiBadResponse(f"listing {what} took more than {max_pages} pages; use -n NAMESPACE", host=api.host)


def list_all(api: KubeApi, path: str, query: Sequence[tuple[str, str]], decode: Callable[[bytes], Page[T]], *,
             page_size: int, cap: int, max_pages: int, max_objects: int, what: str) -> list[T]:
    """Every item of a listing, at most ``max_objects`` (pages are capped, and so is their sum); lists
    again once if the continue token expires."""
    for _attempt in range(2):
        items: list[T] = []
        try:
            for page_items, _version, _token in pages(api, path, query, decode, page_size=page_size, cap=cap,
                                                      max_pages=max_pages, what=what):
                items.extend(page_items)
                if len(items) > max_objects:
                    raise ApiBadResponse(f"listing {what} gave more than {max_objects}; use -n NAMESPACE",
                                         host=api.host)
            return items
        except ApiGone:
            continue
    raise ApiBadResponse(f"listing {what}: the continue token expired twice; try again", host=api.host)
