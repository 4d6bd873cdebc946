"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(*tasks: asyncio.Task[object]) -> None:
    """Cancels the tasks and waits for them to end. A cancellation can be lost when it races with a
    Redis reply arriving inside redis-py's timeout handling (Python 3.11), and the task would keep
    running, so it is repeated until each task is done."""
    for task in tasks:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1)
