"""A Redis client from REDIS_URL: one server, a Redis Cluster, or the master a Sentinel names.

    redis://[[user]:password@]host:port/db, rediss://… (TLS), unix:///path?db=0   one server (redis-py's own URLs)
    redis+cluster://[[user]:password@]host:port[,host:port…]                      a cluster (any of its nodes)
    redis+sentinel://[[user]:password@]host:port[,host:port…]/service[/db]         the master Sentinel names
    rediss+cluster://…, rediss+sentinel://…                                        the same over TLS

A cluster has only db 0. The credentials are the data nodes' (a Sentinel is asked without them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from bot.store.redis_keys import RedisClient

SINGLE_SCHEMES = ("redis", "rediss", "unix")
FORMS = ("redis://host:port/db, rediss://…, unix:///path, redis+cluster://host:port[,host:port…] or "
         "redis+sentinel://host:port[,host:port…]/service[/db]")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    kind: Literal["single", "cluster", "sentinel"]
    url: str  # as given (a single server's is handed to redis-py as it is)
    nodes: tuple[tuple[str, int], ...] = ()  # the cluster's or the Sentinels' addresses
    service: str = ""  # the Sentinel's name for the master
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_redis_url(url: str) -> RedisTarget:
    """What REDIS_URL names; ValueError (saying what was wrong and which forms there are) if nothing."""
    try:
        return _parse(url)
    except ValueError as err:  # the message shows the URL, but never its password
        raise ValueError(str(err).replace(url, without_password(url))) from None


def without_password(url: str) -> str:
    """The URL as it may be shown or logged: its password, if any, as ***."""
    return re.sub(r"(//[^@/]*?:)[^@/]*@", r"\1***@", url)


def _parse(url: str) -> RedisTarget:
    scheme, _, rest = url.partition("://")
    if not rest:
        raise ValueError(f"{url!r} is not a URL; use {FORMS}")
    if scheme in SINGLE_SCHEMES:
        return RedisTarget("single", url)
    base, _, kind = scheme.partition("+")
    if base not in ("redis", "rediss") or kind not in ("cluster", "sentinel"):
        raise ValueError(f"unknown scheme {scheme!r}; use {FORMS}")
    parts = urlsplit(f"x://{rest}")  # netloc with several host:port pairs is not a single host to urllib
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    nodes = tuple(_address(host, url) for host in hosts.split(","))
    path = [p for p in parts.path.split("/") if p]
    service, db = "", 0
    if kind == "cluster" and path not in ([], ["0"]):
        raise ValueError(f"{url!r}: a cluster has only db 0, so no path")
    if kind == "sentinel":
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError(f"{url!r}: name the master as redis+sentinel://host:port[,…]/service[/db]")
        service, db = unquote(path[0]), int(path[1]) if len(path) == 2 else 0
    return RedisTarget(cast(Literal["cluster", "sentinel"], kind), url, nodes, service, db,
                       unquote(user) or None, unquote(password) or None, base == "rediss")


def _address(host: str, url: str) -> tuple[str, int]:
    name, _, port = host.rpartition(":")
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{url!r}: {host!r} is not host:port")
    return name.strip("[]"), int(port)


def connect(url: str, **options: Any) -> RedisClient:
    """A client of what `url` names; `options` are redis-py connection options (timeouts, retries, health
    checks), the same for every form. Nothing is connected yet."""
    target = parse_redis_url(url)
    if target.kind == "single":
        return Redis.from_url(url, **options)
    auth: dict[str, Any] = {"username": target.username, "password": target.password, "ssl": target.tls}
    if target.kind == "cluster":
        return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
                            **auth, **options)
    sentinels = {k: v for k, v in options.items() if k.startswith("socket_")} | {"ssl": target.tls}
    sentinel = Sentinel(list(target.nodes), sentinel_kwargs=sentinels, db=target.db,  # type: ignore[no-untyped-call]
                        **auth, **options)
    master: SentinelMaster = sentinel.master_for(target.service, redis_class=SentinelMaster)
    return master


class SentinelMaster(Redis):
    """The master's client; closing it closes the connections to the Sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool: Any = self.connection_pool
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()
