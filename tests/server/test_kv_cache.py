"""The block pool: never hands out a block twice, keeps count, prefers contiguous runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_server.core import RequestError
from model_server.kv_cache import BlockPool


def test_allocation_continues_a_run_when_it_can():
    pool = BlockPool(10)
    a = pool.allocate(3)
    b = pool.allocate(2)
    pool.release(a[1:])
    assert pool.allocate(2, after=a[0]) == a[1:]  # the freed neighbours, in order
    assert pool.allocate(1, after=b[-1]) == [b[-1] + 1]


def test_over_budget_is_413_and_full_is_429():
    pool = BlockPool(4)
    with pytest.raises(RequestError) as e:
        pool.allocate(5)
    assert e.value.status == 413
    pool.allocate(3)
    with pytest.raises(RequestError) as e:
        pool.allocate(2)
    assert e.value.status == 429 and e.value.retry_after


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5), st.integers(0, 50)), max_size=80))
def test_random_allocate_release_keeps_blocks_unique(ops):
    pool = BlockPool(12)
    held: list[list[int]] = []
    for alloc, n, pick in ops:
        if alloc and n <= pool.free:
            after = held[pick % len(held)][-1] if held and pick % 2 else None
            held.append(pool.allocate(n, after=after))
        elif held:
            pool.release(held.pop(pick % len(held)))
        owned = [b for blocks in held for b in blocks]
        assert len(owned) == len(set(owned)) == pool.used
        assert all(0 <= b < 12 for b in owned)
