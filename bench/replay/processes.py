"""The set-up: the demo store's knowledge base built with `storebot kb build`, the `storebot serve telegram slack`
processes started and waited for, and the calibration that learns each question's reply text."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.replay.model import Conversation, PlatformStats, Process, Question
from bench.replay.platforms import SLACK_PATH, TELEGRAM_PATH, TELEGRAM_SECRET, Deliveries, LoadBalancer, Replies
from knowledge.index.embedding import default_onnx_cache
from tests.redis_server import free_port
from tests.slack_standin import SIGNING_SECRET


def storebot_command() -> list[str]:
    script = Path(sys.executable).with_name("storebot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


def base_env(work: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_", "REDIS_", "KB_"))}
    return env | {
        "KB_DATA_DIR": str(work / "kb"), "REDIS_URL": redis_url, "HF_HUB_OFFLINE": "1", "METRICS_PORT": "-1",
        "EMBED_ONNX_DIR": os.environ.get("EMBED_ONNX_DIR", str(default_onnx_cache())),
        "RATE_LIMIT_PER_MINUTE": "1000000", "PYTHONUNBUFFERED": "1",
        "MEMORY_TURNS": "100",  # the whole conversation stays in Redis, for the diagnosis after each scenario
    }


def build_kb(work: Path, env: dict[str, str]) -> None:
    done = subprocess.run([*storebot_command(), "kb", "build"], cwd=work, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"storebot kb build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def start_process(number: int, work: Path, env: dict[str, str], telegram_api: str, slack_api: str) -> Process:
    telegram_port, slack_port = free_port(), free_port()
    env = env | {
        "TELEGRAM_BOT_TOKEN": "123:REPLAY", "TELEGRAM_API_BASE_URL": telegram_api,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_WEBHOOK_PORT": str(telegram_port), "TELEGRAM_WEBHOOK_PATH": TELEGRAM_PATH,
        "TELEGRAM_FLOOD_LIMITS": "false",
        "SLACK_BOT_TOKEN": "xoxb-replay", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_BASE_URL": slack_api,
        "SLACK_HTTP_PORT": str(slack_port),
    }
    log = work / f"serve-{number}.log"
    with log.open("ab") as out:  # a process started again after a kill writes on
        popen = subprocess.Popen([*storebot_command(), "serve", "telegram", "slack"], cwd=work, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    return Process(number, popen, f"http://127.0.0.1:{telegram_port}/{TELEGRAM_PATH}",
                   f"http://127.0.0.1:{slack_port}{SLACK_PATH}", log)


async def wait_until_up(process: Process, within_s: float = 180.0) -> None:
    ports = [int(url.split(":")[2].split("/")[0]) for url in (process.telegram_url, process.slack_url)]
    deadline = time.perf_counter() + within_s
    while True:
        if process.popen.poll() is not None:
            raise SystemExit(f"serve process {process.number} exited ({process.popen.returncode}):\n"
                             + process.log.read_text(errors="replace")[-3000:])
        if all(_accepts(port) for port in ports):
            return
        if time.perf_counter() > deadline:
            raise SystemExit(f"serve process {process.number} not up after {within_s:.0f} s")
        await asyncio.sleep(0.2)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def calibrate(pool: list[str], processes: list[Process], balancer: LoadBalancer,
                    replies: Replies) -> list[str]:
    """Asks every question once per platform and process in a fresh conversation and learns its reply's text;
    questions whose replies are not one text, or share it with another question, are left out."""
    texts: dict[tuple[str, int], set[str]] = {}
    numbers = iter(range(9_000_001, 10_000_000))
    calibration = Deliveries(balancer, {"telegram": PlatformStats(), "slack": PlatformStats()})

    async def ask(platform: str, process: Process, key: int) -> None:
        number = next(numbers)
        conversation = Conversation(platform, str(number) if platform == "telegram" else f"D{number}")
        waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        replies.calibrating[(platform, conversation.address)] = waiting
        question = Question(0, key, pool[key], number)
        if platform == "telegram":
            await calibration.telegram(conversation, question, process)
        else:
            await calibration.slack(conversation, question, process)
        texts.setdefault((platform, key), set()).add(await asyncio.wait_for(waiting, 60))

    for process in processes:
        for platform in ("telegram", "slack"):
            await asyncio.gather(*(ask(platform, process, key) for key in range(len(pool))))
    keep = []
    for key in range(len(pool)):
        one = all(len(texts[(p, key)]) == 1 for p in ("telegram", "slack"))
        shared = any(texts[(p, key)] & texts[(p, other)] for p in ("telegram", "slack")
                     for other in range(len(pool)) if other != key)
        if one and not shared:
            keep.append(key)
    for new_key, key in enumerate(keep):
        for platform in ("telegram", "slack"):
            replies.known[platform][next(iter(texts[(platform, key)]))] = new_key
    return [pool[key] for key in keep]
