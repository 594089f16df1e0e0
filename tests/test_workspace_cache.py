"""The workspace's cache of whole-project figures: kept while the project is unchanged, recomputed
after any write."""

from __future__ import annotations

from phantomcode.store import Store
from phantomcode.workspace.cache import ProjectCache


def test_a_value_is_kept_until_the_project_is_written(project_from) -> None:
    project = project_from({"a.md": "The school asked for five documents.\n"})
    cache = ProjectCache(project)
    calls = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get("n", compute) == cache.get("n", compute) == 1
    with Store.open(project) as store:
        store.save_memo("a", text="a memo", author="ana")
    assert cache.get("n", compute) == 2
