"""The runtime's own tasks: one that dies of a bug says so."""

from __future__ import annotations


async def test_a_turn_loop_that_dies_of_a_bug_says_so():
    """The model task is the companion's whole voice: a bug in it (a missing import, once) left
    the model 'live' and silent forever. It ends visibly instead."""
    import asyncio
    from types import SimpleNamespace

    from companion.runtime import Runtime

    async def broken() -> None:
        raise NameError("name 'unasked_save_lint' is not defined")

    events: list = []
    task = asyncio.create_task(broken(), name="model")
    await asyncio.gather(task, return_exceptions=True)
    Runtime._task_ended(SimpleNamespace(emit=events.append), task)
    [state] = events
    assert (state.stream, state.status) == ("model", "unavailable")
    assert state.reason == "stopped by a bug: NameError: name 'unasked_save_lint' is not defined"
    cancelled = asyncio.create_task(asyncio.sleep(10), name="model")
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    Runtime._task_ended(SimpleNamespace(emit=events.append), cancelled)  # shutting down: nothing
    assert len(events) == 1
