"""A throwaway redis-server of one test's own, which it may stop and start again on the same port
(the shared test Redis must never be restarted); a throwaway Redis Cluster and Sentinel."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, append_only: bool = False) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = directory
        self.append_only = append_only
        # Every write to an append-only file before it is acknowledged: a restart, even after SIGKILL, loses nothing.
        self._persistence = ["--appendonly", "yes", "--appendfsync", "always"] if append_only else \
            ["--appendonly", "no"]
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server not found; install it (Debian: apt-get install redis-server)")
        self._dir.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self._persistence,
            "--dir", str(self._dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url)
        try:
            for _ in range(100):
                with contextlib.suppress(RedisError):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise AssertionError(f"redis-server on port {self.port} did not start")

    async def stop(self) -> None:
        """Stops the server at once (as a crash would: nothing is saved)."""
        if self._process is not None:
            self._process.kill()
            await self._process.wait()
            self._process = None


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 above it, so below 55536) is free too."""
    while True:
        port = random.randrange(20000, 30000)
        with socket.socket() as probe, socket.socket() as bus:
            try:
                probe.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port


def on_redis(*kinds: str) -> pytest.MarkDecorator:
    """Runs the test (or, as `pytestmark`, the module) once per kind of Redis: "single" (the session's server),
    "cluster" (a Redis Cluster of three masters) or "sentinel" (the master a Sentinel names); see the
    `redis_url` fixture in tests/conftest.py."""
    return pytest.mark.parametrize("redis_url", kinds, indirect=True)


def _start(binary: str, *args: str, directory: Path) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([binary, *args], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _until(probe: list[str], expect: str, what: str, within_s: float = 10) -> None:
    """Runs `redis-cli probe…` until its output has `expect`; fails the session with `what` if it never does."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        done = subprocess.run(["redis-cli", *probe], capture_output=True, text=True, check=False)
        if expect in done.stdout:
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {within_s} s")


class LocalCluster:
    """A throwaway Redis Cluster of three masters on free ports (as scripts/test.sh starts one when it starts
    its own Redis), whose nodes a test may stop and start again: each keeps its cluster identity in its
    directory."""

    def __init__(self, directory: Path, append_only: bool = False) -> None:
        self.ports = [free_cluster_port() for _ in range(3)]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)
        self._dir = directory
        self.append_only = append_only  # as RedisServer's: a node restarted after a crash keeps its keys
        self._nodes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> str:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            pytest.fail("redis-server and redis-cli are needed for the cluster tests (Debian: apt-get install "
                        "redis-server), or set REDIS_CLUSTER_URL")
        for port in self.ports:
            self.start_node(port)
        for port in self.ports:
            _until(["-p", str(port), "ping"], "PONG", f"cluster node {port} did not start")
        created = subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                                  "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True)
        if created.returncode:
            pytest.fail(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        self.wait_ok()
        return self.url

    def start_node(self, port: int) -> None:
        self._nodes[port] = _start(
            shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--save", "",
            *(["--appendonly", "yes", "--appendfsync", "always"] if self.append_only else ["--appendonly", "no"]),
            directory=self._dir / str(port))

    def stop_node(self, port: int) -> None:
        """Kills the node at once, as a crash would (its keys are lost; its slots stay its own)."""
        node = self._nodes.pop(port)
        node.kill()
        node.wait()

    def wait_ok(self) -> None:
        for port in self.ports:
            _until(["-p", str(port), "cluster", "info"], "cluster_state:ok", "the cluster did not come up")

    def stop(self) -> None:
        for port in list(self._nodes):
            self.stop_node(port)


class LocalSentinel:
    """A throwaway master and one Sentinel that names it (service "storebot")."""

    def __init__(self, directory: Path) -> None:
        self.master_port, self.port = free_port(), free_port()
        self.url = f"redis+sentinel://127.0.0.1:{self.port}/storebot/0"
        self._dir = directory
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is needed for the Sentinel tests, or set REDIS_SENTINEL_URL")
        self._processes.append(_start(binary, "--port", str(self.master_port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", directory=self._dir / "master"))
        _until(["-p", str(self.master_port), "ping"], "PONG", "the Sentinel's master did not start")
        config = self._dir / "sentinel.conf"  # Sentinel rewrites its own config: one of its own
        config.write_text(f"port {self.port}\nbind 127.0.0.1\n"
                          f"sentinel monitor storebot 127.0.0.1 {self.master_port} 1\n")
        self._processes.append(_start(binary, str(config), "--sentinel", directory=self._dir))
        _until(["-p", str(self.port), "sentinel", "get-master-addr-by-name", "storebot"], str(self.master_port),
               "the Sentinel did not start")
        return self.url

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
            process.wait()
