"""The router serves from the newest generation that has a ready replica."""

from __future__ import annotations

from overtone.serve._metrics import Metrics
from overtone.serve._router import Router


def _router() -> Router:
    return Router(b"k", 8, 0.01, 30.0, 100, Metrics(8), lambda event: None)


def _ready(router: Router, replica_id: str, generation: int) -> None:
    router.expect(replica_id, generation)
    router.links[replica_id].state = "ready"


def test_batches_go_to_the_newest_ready_generation_only():
    router = _router()
    _ready(router, "old-a", 1)
    _ready(router, "old-b", 1)
    assert router._free_link().replica_id == "old-a"
    router.expect("new", 2)  # starting: the old ones serve meanwhile
    assert router._free_link().replica_id == "old-a"
    router.links["new"].state = "ready"
    assert [link.replica_id for link in router._ready_links()] == ["new"]
    assert router._free_link().replica_id == "new"
    router.links["new"].batch = (1, [])  # busy: the old ones wait, never answer after it
    assert router._free_link() is None
