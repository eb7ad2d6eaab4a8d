"""The wake relay between `serve --api-processes` processes, over a real Unix datagram socket."""

from __future__ import annotations

import asyncio
import threading

from songforge.workers.wake_relay import MAX_DATAGRAM, WakeListener, WakeSender, new_address


def test_ids_sent_after_a_commit_reach_the_listeners_wake_hook() -> None:
    heard: list[list[str] | None] = []

    async def scenario() -> None:
        address = new_address()
        listener = WakeListener(address, heard.append)
        listener.start()
        sender = WakeSender(address)
        try:
            # commit hooks run in the admission's thread, not on the loop
            thread = threading.Thread(target=sender, args=(["1-job:7", "1-job:8"],))
            thread.start()
            thread.join()
            sender(["x" * (MAX_DATAGRAM + 1)])  # too many to name: a wake-up for any job
            for _ in range(100):
                if len(heard) == 2:
                    break
                await asyncio.sleep(0.01)
        finally:
            sender.close()
            listener.close()

    asyncio.run(scenario())
    assert heard == [["1-job:7", "1-job:8"], None]


def test_a_sender_with_nobody_listening_neither_raises_nor_waits() -> None:
    sender = WakeSender(new_address())
    try:
        sender(["1-job:1"])
    finally:
        sender.close()
