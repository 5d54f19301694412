"""`assistant serve`: the grounded assistant as an OpenAI-compatible HTTP API (FastAPI).

`GET /v1/models` lists the models a client may ask for (installed catalog models, the configured
default, Ollama's models, configured `openai:` endpoints); `POST /v1/chat/completions` answers the
last user message through ChatService, with the conversation's earlier user and assistant turns
as follow-up history. The answer text keeps its [n] markers and ends with its sources; the
response also carries `citations`, `abstained`, `abstain_reason`, `abstain_check` and `record`
(the answer record of `assistant ask --json`).

Streaming sends only the checked answer. The engine's checks see the whole draft before they
decide: a draft can become an abstention, or be replaced by the retry's answer, and an API client
cannot take back text it was sent. So a stream opens with the role chunk as soon as the passages
are found, carries SSE comments (ignored by clients) while the model drafts, then the checked
answer in pieces, then a last chunk with finish_reason, `usage` and the fields above.

A thin shell like the CLI: engine errors are translated here, once, into OpenAI error objects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from assistant.answer.generate import AnswerResult
from assistant.chat import ChatService
from assistant.errors import (
    AssistantError,
    BackendUnavailable,
    BadQuestion,
    ModelNotInstalled,
    StoreUnavailable,
)
from assistant.events import Event, Progress
from assistant.models.base import Message
from assistant.models.registry import available_models
from assistant.server_access import ApiAuth, check_api_serving
from assistant.settings import Settings

log = logging.getLogger(__name__)

# 8000 is the default of `chroma run` and `python -m llama_cpp.server`, both of which this
# project talks to; 8001 keeps clear of them.
DEFAULT_PORT = 8001
# A request body larger than this is refused before it is parsed (a question is at most
# max_question_chars; history beyond a few turns is not used).
MAX_BODY_BYTES = 1_000_000
# While the model drafts, an SSE comment at most this often keeps proxies from closing the stream.
KEEPALIVE_S = 5.0
SOURCES_HEADING = "Sources:"
# Request fields that change what an OpenAI model returns and that this server cannot honour.
UNSUPPORTED = {
    "tools": "tool calls", "functions": "function calls", "tool_choice": "tool calls",
    "function_call": "function calls", "logprobs": "log probabilities",
    "top_logprobs": "log probabilities", "audio": "audio output",
}


class ApiError(Exception):
    """An OpenAI-style error: {"error": {"message", "type", "param", "code"}} with its status."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status, message, type_, param, code)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


def engine_error(e: AssistantError) -> ApiError:
    """The engine's error as the API's: its message and what to do, with a status to match."""
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(e).__name__).lower()
    if isinstance(e, BadQuestion):
        return ApiError(400, str(e), param="messages", code=code)
    if isinstance(e, ModelNotInstalled):
        # Not worth a client's retry (the openai client retries any 5xx): it needs an install.
        return ApiError(404, str(e), param="model", code=code)
    # 503 for what may come back by itself (a server starting); the openai client retries it.
    status = 503 if isinstance(e, BackendUnavailable | StoreUnavailable) else 500
    return ApiError(status, str(e), type_="server_error", code=code)


# -- the request --------------------------------------------------------------------------------


@dataclass
class Ask:
    model: str
    question: str
    history: list[Message]
    stream: bool
    temperature: float | None
    top_k: int | None


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(400, f"{where} has a '{kind}' part; only text is understood",
                               param=where)
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise ApiError(400, f"{where} must be a string or a list of text parts", param=where)


def _without_sources(answer: str) -> str:
    """An assistant turn as the engine wrote it: the sources this server appended are dropped."""
    head, sep, _ = answer.rpartition(f"\n\n{SOURCES_HEADING}\n")
    return head if sep else answer


def _number(body: dict[str, Any], name: str, low: float, high: float, whole: bool = False
            ) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        what = "a whole number" if whole else "a number"
        raise ApiError(400, f"'{name}' must be {what} from {low:g} to {high:g}", param=name)
    return value


def parse_request(body: Any) -> tuple[str | None, Ask]:
    """The question, history and options of a chat completion request (model not yet checked)."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    for name, what in UNSUPPORTED.items():
        if body.get(name) not in (None, [], False):
            raise ApiError(400, f"'{name}' is not supported: this model answers from its "
                           f"documents and has no {what}", param=name)
    if body.get("n") not in (None, 1):
        raise ApiError(400, "'n' must be 1: the assistant gives one checked answer per question",
                       param="n")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "text"):
        raise ApiError(400, "'response_format' must be {\"type\": \"text\"}: answers are text "
                       "with [n] citation markers", param="response_format")
    model = body.get("model")
    if model is not None and (not isinstance(model, str)):
        raise ApiError(400, "'model' must be a string: one of the ids from GET /v1/models",
                       param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content} messages",
                       param="messages")
    turns: list[Message] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(400, f"{where} must be an object with role and content", param=where)
        role = m.get("role")
        # The assistant's own prompt decides how it answers; a client's system prompt is not used.
        if role in ("system", "developer"):
            continue
        if role not in ("user", "assistant"):
            raise ApiError(400, f"{where}.role must be user, assistant or system, not {role!r}",
                           param=f"{where}.role")
        text = _text(m.get("content"), f"{where}.content")
        turns.append({"role": role, "content": _without_sources(text) if role == "assistant"
                      else text})
    if not turns or turns[-1]["role"] != "user":
        raise ApiError(400, "The last message must be the user's question", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    return model, Ask(
        model="", question=turns[-1]["content"], history=turns[:-1], stream=stream,
        temperature=_number(body, "temperature", 0, 2),
        top_k=_number(body, "top_k", 1, 20, whole=True),
    )


# -- the answer as the API's text ---------------------------------------------------------------


def answer_text(result: AnswerResult) -> str:
    """The answer with its [n] markers, then its numbered sources (those an abstention pointed
    at, marked unconfirmed)."""
    lines = []
    for c in result.citations():
        where = " — ".join(x for x in (c["title"], c["locator"]) if x)
        flag = "" if c["supported"] else " (not supported by this passage)"
        if c["injection"]:  # another tool's agent reads this text too: it must not obey it
            flag += " (holds text addressed to the assistant: an instruction, not information)"
        lines.append(f"- [{c['n']}] {where}{flag} {c['url']}".rstrip())
    if not lines:
        for p in result.pointed_passages():
            where = " — ".join(x for x in (p["title"], p["locator"]) if x)
            lines.append(f"- [{p['n']}] {where} (pointed at, unconfirmed) {p['url']}".rstrip())
    text = result.answer.strip()
    return f"{text}\n\n{SOURCES_HEADING}\n" + "\n".join(lines) if lines else text


def pieces(text: str, words: int = 6) -> list[str]:
    """The checked answer cut into pieces of a few words, whitespace kept, for a stream."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]


def extras(result: AnswerResult) -> dict[str, Any]:
    return {
        "citations": result.citations(), "abstained": result.abstained,
        "abstain_reason": result.abstain_reason, "abstain_check": result.abstain_check,
        "record": result.to_json(),
    }


def usage(result: AnswerResult) -> dict[str, int]:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}


def finish_reason(result: AnswerResult) -> str:
    return "length" if result.cut_off else "stop"


# -- running the engine -------------------------------------------------------------------------

_END = object()


@dataclass
class _Failed:
    error: BaseException


class EngineRun:
    """One ChatService.stream in a thread of its own; its events reach the event loop by a queue,
    and `progress` (written by that thread only) holds what they added up to.

    `stop()` (the client went away) makes the thread close the engine's generator at the next
    piece, which releases the model's lock: the next request does not wait for an answer nobody
    reads. A thread rather than Starlette's thread pool, because the engine's generator holds
    the lock between pieces and must be closed by whoever is iterating it."""

    def __init__(self, stream: Generator[Event, None, None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stop = threading.Event()
        self.progress = Progress()
        self._thread = threading.Thread(target=self._work, daemon=True, name="answer")
        self._thread.start()

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            pass  # the server's loop is gone (shutting down): nobody is waiting

    def _work(self) -> None:
        try:
            for event in self._stream:
                if self._stop.is_set():
                    log.info("stopped answering after %d pieces: the client went away",
                             self.progress.pieces)
                    break
                # Added before it is queued: whoever receives it sees what it added.
                self.progress.add(event)
                self._put(event)
        except AssistantError as e:
            self._put(_Failed(e))
        except Exception as e:  # an engine bug: logged in full here, a plain 500 to the client
            log.exception("answering failed")
            self._put(_Failed(e))
        finally:
            self._stream.close()
            self._put(_END)

    async def get(self) -> Any:
        return await self._queue.get()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def failure(item: _Failed) -> ApiError:
    if isinstance(item.error, AssistantError):
        return engine_error(item.error)
    return ApiError(500, f"Internal error ({type(item.error).__name__}); the server's log has "
                    "the details", type_="server_error")


# -- the app ------------------------------------------------------------------------------------


class Models:
    """The model ids a client may ask for, refreshed when listed or when an id is not known."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._ids: list[str] = []

    def refresh(self) -> list[str]:
        ids = [c.spec for c in available_models(self.settings) if c.installed]
        # The configured default is offered even when it is a path or not installed: asking
        # for it then says what to install.
        ids = [self.settings.model, *[i for i in ids if i != self.settings.model]]
        with self._lock:
            self._ids = ids
        return ids

    def resolve(self, model: str | None) -> str:
        if not model:
            return self.settings.model
        with self._lock:
            known = model in self._ids
        if known or model in self.refresh():
            return model
        # An arbitrary spec (llamacpp:/any/path.gguf, any host) is never loaded for a client.
        raise ApiError(404, f"The model '{model}' does not exist here; use one of: "
                       f"{', '.join(self._ids)} (GET /v1/models lists them)", param="model",
                       code="model_not_found")


def create_app(settings: Settings, service: ChatService | None = None,
               auth: ApiAuth | None = None) -> Any:
    service = service or ChatService(settings)
    models = Models(settings)

    def require_auth(request: Request) -> None:
        if auth is not None and not auth.allows(request.headers.get("authorization")):
            how = ("a bearer key or HTTP Basic user:password" if auth.basic
                   else "Authorization: Bearer <key>")
            raise ApiError(
                401, f"Missing or wrong credentials: send {how} (the openai client's api_key; "
                "the key is the server's --auth / ASSISTANT_SERVE_AUTH)", code="invalid_api_key")

    app = FastAPI(title="Article assistant", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(require_auth)])

    def error_response(e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": auth.challenge} if auth and e.status == 401 else None
        return JSONResponse(e.body(), status_code=e.status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, e: HTTPException) -> JSONResponse:
        message = {404: f"No such endpoint: {request.method} {request.url.path}; this server has "
                   "GET /v1/models and POST /v1/chat/completions",
                   405: f"{request.method} is not allowed on {request.url.path}"}
        return error_response(ApiError(e.status_code, message.get(e.status_code, str(e.detail))))

    @app.get("/v1/models")
    async def list_models() -> Any:
        ids = await run_in_threadpool(models.refresh)
        return {"object": "list", "data": [
            {"id": i, "object": "model", "created": 0, "owned_by": "article-assistant"}
            for i in ids]}

    async def read_body(request: Request) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ApiError(413, f"The request is over {MAX_BODY_BYTES:,} bytes; ask a shorter "
                           "question and send fewer earlier turns")
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise ApiError(413, f"The request is over {MAX_BODY_BYTES:,} bytes; ask a "
                               "shorter question and send fewer earlier turns")
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, f"The request body is not valid JSON ({e})") from None

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        model, ask = parse_request(await read_body(request))
        ask.model = await run_in_threadpool(models.resolve, model)
        run = EngineRun(
            service.stream(ask.question, ask.history, model_spec=ask.model, top_k=ask.top_k,
                           temperature=ask.temperature),
            asyncio.get_running_loop(),
        )
        # Everything that can go wrong before the model writes (the question, the model, the
        # store) is answered with its own status; only later failures arrive inside a stream.
        first = await run.get()
        if isinstance(first, _Failed):
            raise failure(first)
        if first is _END:  # pragma: no cover - the engine always yields Searched first
            raise ApiError(500, "The engine gave no answer", type_="server_error")
        ident = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()),
                 "model": ask.model}
        if ask.stream:
            return StreamingResponse(stream_answer(run, ident),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return await complete_answer(request, run, ident)

    async def complete_answer(request: Request, run: EngineRun, ident: dict[str, Any]
                              ) -> dict[str, Any]:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(run.get(), timeout=1.0)
                except TimeoutError:
                    if await request.is_disconnected():
                        raise ApiError(499, "The client closed the request") from None
                    continue
                if item is _END:
                    break
                if isinstance(item, _Failed):
                    raise failure(item)
        finally:
            run.stop()
        result = run.progress.result
        if result is None:  # pragma: no cover - the engine ends with its AnswerResult
            raise ApiError(500, "The engine gave no answer", type_="server_error")
        return {
            **ident, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": answer_text(result)},
                         "finish_reason": finish_reason(result), "logprobs": None}],
            "usage": usage(result), **extras(result),
        }

    return app


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_answer(run: EngineRun, ident: dict[str, Any]) -> AsyncIterator[str]:
    """role chunk, comments while drafting, the checked answer in pieces, the last chunk."""
    def chunk(delta: dict[str, Any], reason: str | None = None, **more: Any) -> str:
        return _event({**ident, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": reason,
                                    "logprobs": None}], **more})

    try:
        yield chunk({"role": "assistant", "content": ""})
        if (found := run.progress.found) is not None:
            yield f": searched, {len(found.passages)} passages; the model is writing\n\n"
        last = time.monotonic()
        while True:
            item = await run.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                yield _event(failure(item).body())
                return
            if time.monotonic() - last >= KEEPALIVE_S:
                last = time.monotonic()
                yield ": drafting; the answer is sent once it is checked\n\n"
        result = run.progress.result
        if result is None:  # pragma: no cover - the engine ends with its AnswerResult
            yield _event(ApiError(500, "The engine gave no answer", "server_error").body())
            return
        for piece in pieces(answer_text(result)):
            yield chunk({"content": piece})
        yield chunk({}, finish_reason(result), usage=usage(result), **extras(result))
        yield "data: [DONE]\n\n"
    finally:
        # Also on a client that went away: Starlette cancels this generator, and the engine
        # is closed at its next piece.
        run.stop()



def run(settings: Settings, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
        auth: str | None = None) -> None:
    import uvicorn

    api_auth = check_api_serving(host, auth)
    service = ChatService(settings)
    app = create_app(settings, service, api_auth)
    threading.Thread(target=service.warm, daemon=True, name="warm-model").start()
    shown = f"[{host}]" if ":" in host else host
    print(f"OpenAI-compatible API on http://{shown}:{port}/v1 (model ids: GET /v1/models; "
          "Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
