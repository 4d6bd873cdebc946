"""The shoppers: each scenario's conversations planned (half Telegram, half Slack; which questions are delivered
again, and how), then run at the same time, each question sent once the previous one was acknowledged."""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from bench.replay.model import Conversation, PlatformStats, Process, Question, Scenario
from bench.replay.platforms import Deliveries, Replies

# Products of the demo store (knowledge/demo_store), asked about by name: "how much is the …?"
PRODUCTS = [
    "Summit Pro 2 Four-Season Tent", "Fjell 800 Down Jacket", "Lumen 800 Rechargeable Headlamp",
    "Beacon 400 Headlamp", "Aurora Down Parka", "Cascade Waterproof Hiking Boot", "Cloudrest Insulated Sleeping Pad",
    "Merino 250 Hoodie", "Polar -20 Expedition Sleeping Bag", "Ridgeback 45 Backpack", "Brisk Softshell Jacket",
    "Cirrus Packable Rain Jacket", "Tundra Grid Fleece Midlayer", "Traverse Hiking Trousers",
    "Trailhead Mid Waterproof Hiking Boot", "Scree Leather Trekking Boot", "Swift Trail Running Shoe",
    "Pathfinder 28 Daypack", "Expedition 65 Trekking Pack", "Nomad 1 Ultralight Tent",
    "Glacier -10 Down Sleeping Bag", "Meadow +5 Synthetic Sleeping Bag", "Merino 200 Base Layer Crew",
    "Merino 200 Base Layer Leggings", "Trek Merino Hiking Socks", "Liner Socks", "Alpine Merino Beanie",
    "Sun Trekker Hat", "Summit Insulated Gloves", "Touchscreen Liner Gloves", "Carbon Trekking Poles",
    "Steel Insulated Bottle 750 ml", "Soft Flask 500 ml", "Trail Gaiters",
]


def plan_scenario(name: str, number: int, args: argparse.Namespace, pool: list[str], rng: random.Random) -> Scenario:
    """Fresh conversations (half Telegram, half Slack) and which questions are delivered again, how."""
    redelivered = round(args.events * args.redeliver)
    distinct = args.events - redelivered
    conversations: list[Conversation] = []
    base = 1_000_000 * (number + 1) + rng.randrange(10**5) * 10
    delivery_id = base * 100
    for c in range(args.conversations):
        platform = "telegram" if c % 2 == 0 else "slack"
        address = str(base + c) if platform == "telegram" else f"D{base + c}"
        count = distinct // args.conversations + (1 if c < distinct % args.conversations else 0)
        keys: list[int] = []
        while len(keys) < count:
            order = rng.sample(range(len(pool)), len(pool))
            if keys and order[0] == keys[-1]:
                order.reverse()
            keys += order
        conversation = Conversation(platform, address)
        for i, key in enumerate(keys[:count]):
            delivery_id += 1
            conversation.questions.append(Question(i, key, pool[key], delivery_id))
        conversations.append(conversation)
    every = [(c, q.index) for c, conv in enumerate(conversations) for q in conv.questions]
    chosen = rng.sample(every, min(redelivered, len(every)))
    redeliver = {pick: (rng.choice(("concurrent", "later")), rng.random() < 0.5) for pick in chosen}
    stats = {"telegram": PlatformStats(), "slack": PlatformStats()}
    scenario = Scenario(name, conversations, redeliver, stats)
    scenario.fault_at = max(1, round(distinct * args.fault_at))
    return scenario


async def run_scenario(scenario: Scenario, deliveries: Deliveries, replies: Replies, think_s: float,
                       rng: random.Random) -> None:
    balancer = deliveries.balancer
    background: set[asyncio.Task[None]] = set()

    def deliver(conversation: Conversation, question: Question, process: Process, again: bool) -> asyncio.Task[None]:
        stats = scenario.stats[conversation.platform]
        stats.events += 1
        stats.redelivered += again
        if stats.first_event is None:
            stats.first_event = time.perf_counter()
        if conversation.platform == "telegram":
            return asyncio.create_task(deliveries.telegram(conversation, question, process))
        return asyncio.create_task(deliveries.slack(conversation, question, process, retry_num=int(again)))

    async def later(conversation: Conversation, question: Question, process: Process) -> None:
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await deliver(conversation, question, process, again=True)

    async def shopper(c: int, conversation: Conversation) -> None:
        pace = random.Random(rng.random())
        for question in conversation.questions:
            if think_s > 0:
                await asyncio.sleep(pace.uniform(0.5 * think_s, 1.5 * think_s))
            process = balancer.pick()
            question.first_sent = time.perf_counter()
            first = deliver(conversation, question, process, again=False)
            again = scenario.redeliver.get((c, question.index))
            if again is not None:
                when, same = again
                target = process if same else balancer.pick(avoid=process)
                if when == "concurrent":
                    task = deliver(conversation, question, target, again=True)
                else:
                    task = asyncio.create_task(later(conversation, question, target))
                background.add(task)
            await first
            question.acked_at = time.perf_counter()
            scenario.stats[conversation.platform].last_ack = question.acked_at
            scenario.acked += 1
            if scenario.acked >= scenario.fault_at:
                scenario.fault_now.set()

    for conversation in scenario.conversations:
        replies.conversations[(conversation.platform, conversation.address)] = conversation
    scenario.started = time.perf_counter()
    await asyncio.gather(*(shopper(c, conv) for c, conv in enumerate(scenario.conversations)))
    scenario.fault_now.set()
    if background:
        await asyncio.gather(*background)
