"""`python -m bench.replay`: the command line, and the run — set-up, the three scenarios, the report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

import bench.replay
from bench.replay.faults import Cluster, kill_process, redis_outage, settle
from bench.replay.model import Process, Scenario
from bench.replay.platforms import Deliveries, LoadBalancer, Replies, SlackApi, TelegramApi
from bench.replay.processes import base_env, build_kb, calibrate, start_process, wait_until_up
from bench.replay.report import diagnose, print_report
from bench.replay.shoppers import PRODUCTS, plan_scenario, run_scenario
from bot.store.connect import connect
from tests.redis_server import RedisServer


def _mark_logs(processes: list[Process], into: dict[int, int]) -> None:
    for process in processes:
        into[process.number] = process.log.stat().st_size


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="storebot-replay-"))
    redis = Cluster(work / "cluster", not args.redis_empty) if args.cluster else \
        RedisServer(work / "redis", append_only=not args.redis_empty)
    replies = Replies()
    telegram_api, slack_api = TelegramApi(replies.on_telegram), SlackApi(replies.on_slack)
    processes: list[Process] = []
    session: aiohttp.ClientSession | None = None
    try:
        await redis.start()
        env = base_env(work, redis.url)
        started = time.perf_counter()
        await asyncio.to_thread(build_kb, work, env)
        built = time.perf_counter() - started
        await telegram_api.start()
        await slack_api.start()
        processes = [start_process(n, work, env, telegram_api.base_url, slack_api.api_url) for n in (0, 1)]
        for process in processes:
            await wait_until_up(process)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        balancer = LoadBalancer(processes, session, rng)
        pool = [f"how much is the {name}?" for name in PRODUCTS]
        asked = await calibrate(pool, processes, balancer, replies)
        per_conversation = args.events * (1 - args.redeliver) / args.conversations
        think = args.think if args.think is not None else 3 * args.outage / per_conversation
        print(f"Knowledge base (demo store) built in {built:.1f} s; two `storebot serve telegram slack` processes "
              f"(pids {', '.join(str(p.popen.pid) for p in processes)}); Redis {redis.url}.")
        print(f"Questions: {len(asked)} of {len(pool)} price questions have one reply text of their own on both "
              f"platforms and are asked. {args.events} events per scenario over {args.conversations} "
              f"conversations, {args.redeliver:.0%} of them deliveries again; think time "
              f"{think:.2f} s on average before each question (uniform 0.5×–1.5×); seed {args.seed}.", flush=True)

        results: list[Scenario] = []
        diagnoses: list[str] = []
        names = [n for n in ("a normal", "b Redis outage") if n[0] in args.scenarios]
        if "c" in args.scenarios:
            stopped = "killed" if args.stop_signal == "kill" else "stopped (SIGTERM)"
            names += [f"c process {stopped}"] if args.kills == 1 else \
                [f"c process {stopped} ({k + 1} of {args.kills})" for k in range(args.kills)]
        for number, name in enumerate(names):
            if name.startswith("c") and processes[1].popen.poll() is not None:  # killed in the scenario before
                processes[1] = start_process(1, work, env, telegram_api.base_url, slack_api.api_url)
                await wait_until_up(processes[1])
            scenario = plan_scenario(name, number, args, asked, rng)
            deliveries = Deliveries(balancer, scenario.stats)
            _mark_logs(processes, scenario.log_from)
            fault: asyncio.Task[None] | None = None
            if name.startswith("b"):
                fault = asyncio.create_task(redis_outage(scenario, redis, args.outage))
            elif name.startswith("c"):
                how = signal.SIGKILL if args.stop_signal == "kill" else signal.SIGTERM
                fault = asyncio.create_task(kill_process(scenario, processes[1], how))
            await run_scenario(scenario, deliveries, replies, think, rng)
            if fault is not None:
                await fault
            client = connect(redis.url, socket_connect_timeout=1)  # anew: the outage closed old connections
            try:
                await settle(scenario, replies, client)
                _mark_logs(processes, scenario.log_to)
                diagnoses += await diagnose(scenario, client)
            finally:
                await client.aclose()
            results.append(scenario)
            print(f"  scenario {name}: done in {time.perf_counter() - scenario.started:.1f} s", flush=True)

        print_report(results, diagnoses, replies.placeholders, processes)
        if args.logs is not None:
            print(f"\nThe processes' logs: {args.logs}")
    finally:
        if args.logs is not None:  # kept whatever happened
            args.logs.mkdir(parents=True, exist_ok=True)
            for process in processes:
                shutil.copy(process.log, args.logs / process.log.name)
        if session is not None:
            await session.close()
        for process in processes:
            if process.popen.poll() is None:
                process.popen.terminate()
                try:
                    await asyncio.to_thread(process.popen.wait, 20)
                except subprocess.TimeoutExpired:
                    process.popen.kill()
                    await asyncio.to_thread(process.popen.wait)
        await telegram_api.stop()
        await slack_api.stop()
        with contextlib.suppress(Exception):
            await redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    description = (bench.replay.__doc__ or "").split("\n\n")[0]  # the package's docstring, first paragraph
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=description)
    parser.add_argument("--events", type=int, default=1000, help="platform events per scenario (default 1000)")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds Redis is down in scenario b")
    parser.add_argument("--conversations", type=int, default=50, help="half Telegram chats, half Slack DMs")
    parser.add_argument("--redeliver", type=float, default=0.3, help="share of events that are deliveries again")
    parser.add_argument("--think", type=float, default=None,
                        help="mean seconds a shopper waits before each question (uniform 0.5×–1.5×); default: "
                             "3 × outage / questions per conversation, so each conversation spans about three "
                             "outages; 0: the next question goes the moment the previous one is acknowledged")
    parser.add_argument("--fault-at", type=float, default=1 / 3,
                        help="share of a scenario's questions acknowledged before its fault (default 1/3)")
    parser.add_argument("--redis-empty", action="store_true",
                        help="run Redis without persistence, so that it comes back empty from the outage (default: "
                             "an append-only file, fsynced on every write, as README advises for production)")
    parser.add_argument("--cluster", action="store_true",
                        help="a Redis Cluster of three masters instead of one server (the outage stops all three)")
    parser.add_argument("--scenarios", default="abc", help="which of the scenarios a, b, c to run (default abc)")
    parser.add_argument("--kills", type=int, default=1,
                        help="run scenario c this many times (the killed process is started again before each), "
                             "so the few questions a kill catches in flight are counted over many kill moments")
    parser.add_argument("--stop-signal", choices=("kill", "term"), default="kill",
                        help="how scenario c stops the process: SIGKILL, a crash (default), or SIGTERM, a deploy or "
                             "a scale-down, after which it answers what it has in hand before it exits")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--logs", type=Path, default=None, help="keep the serve processes' logs in this directory")
    args = parser.parse_args(argv)
    if args.events < args.conversations or not 0 <= args.redeliver < 1:
        parser.error("need --events ≥ --conversations and 0 ≤ --redeliver < 1")
    if not args.scenarios or set(args.scenarios) - set("abc") or args.kills < 1:
        parser.error("need --scenarios made of a, b, c and --kills ≥ 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
