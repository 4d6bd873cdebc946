"""A local stand-in for OpenAI's files and fine-tuning endpoints, for the real `openai` client."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from aiohttp import web


class FineTuningStandIn:
    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}  # id → {"purpose", "filename", "lines"}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/files", self._upload)
        app.router.add_post("/v1/fine_tuning/jobs", self._create)
        app.router.add_get("/v1/fine_tuning/jobs/{id}", self._retrieve)
        app.router.add_get("/v1/fine_tuning/jobs/{id}/events", self._list_events)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def finish(self, job: str, model: str) -> None:
        self.jobs[job].update(status="succeeded", fine_tuned_model=model, finished_at=int(time.time()))
        self.events[job].append(f"New fine-tuned model created: {model}")

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        content = upload.file.read().decode("utf-8")  # type: ignore[union-attr]
        lines = [json.loads(line) for line in content.splitlines() if line.strip()]  # OpenAI rejects bad JSONL
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = {"purpose": form["purpose"], "filename": upload.filename, "lines": lines}  # type: ignore[union-attr]
        return web.json_response({"id": file_id, "object": "file", "bytes": len(content), "created_at": 0,
                                  "filename": upload.filename, "purpose": form["purpose"], "status": "processed"})  # type: ignore[union-attr]

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["training_file"] not in self.files:
            return web.json_response({"error": {"message": "invalid training_file", "type": "invalid_request_error"}},
                                     status=400)
        job = f"ftjob-{next(self._ids)}"
        self.jobs[job] = {"id": job, "object": "fine_tuning.job", "created_at": int(time.time()),
                          "model": body["model"], "fine_tuned_model": None, "finished_at": None,
                          "hyperparameters": body.get("hyperparameters", {}), "organization_id": "org-test",
                          "result_files": [], "status": "validating_files", "trained_tokens": None,
                          "training_file": body["training_file"], "validation_file": body.get("validation_file"),
                          "error": None, "seed": 0, "suffix": body.get("suffix")}
        self.events[job] = ["Validating training file", "Fine-tuning job started"]
        return web.json_response(self.jobs[job])

    async def _retrieve(self, request: web.Request) -> web.Response:
        return web.json_response(self.jobs[request.match_info["id"]])

    async def _list_events(self, request: web.Request) -> web.Response:
        messages = self.events[request.match_info["id"]]
        data = [{"id": f"ev-{i}", "object": "fine_tuning.job.event", "created_at": i, "level": "info",
                 "message": m, "type": "message"} for i, m in enumerate(messages)]
        return web.json_response({"object": "list", "data": list(reversed(data)), "has_more": False})
