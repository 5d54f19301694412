"""Soak the UI server: N questions through gradio_client, the server's RSS at checkpoints.

    PYTHONPATH=. python eval/soak.py --data-dir DIR [--sessions closed long] [--questions 400]
        [--checkpoints 1,50,100,150,200,400] [--minutes 60] [--trace OUT.jsonl]

Starts `assistant ui` on a free port over DIR's store (index one first, e.g. `assistant ingest
--data-dir DIR`), with SmolLM2-135M, top-k 2 and 32-token answers to keep each answer short,
once per --sessions mode:

- closed: two alternating sessions, both closed and a new pair opened every --renew questions,
  as browsers that come and go;
- long: one session for every question, as one tab left open (its conversation grows).

Stops at --minutes whatever is left. Prints and writes (--out) one JSON object with a result per
mode: RSS in MB after the first answer and at each checkpoint, errors, and the growth after 50.
--trace runs the server under eval/soak_trace.py: at each checkpoint it appends what grew
(Python heap vs RSS, Gradio sessions held, allocation sites) to OUT.<mode>.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

QUESTIONS = [
    "Which CEO joined Mark Zuckerberg in the joint statement on EU AI rules?",
    "What did Zuckerberg and Ek criticize?",
    "What happens above 700 million monthly active users?",
    "What does the acceptable use policy say about weapons?",
    "Under which law is the Llama 3.1 license governed?",
    "What must be shared about the training data of an open source AI system?",
    "When was the statement published?",
    "What is the capital of Australia?",
]
ASK = "/ask"
DETAILS = 6
MODES = ("closed", "long")
TRACE = Path(__file__).with_name("soak_trace.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def checkpoints(text: str) -> list[int]:
    return sorted({int(n) for n in text.split(",") if n.strip()})


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def _traced(server: subprocess.Popen[str], trace: Path, count: int) -> None:
    """Ask the traced server for a checkpoint and wait until its line is written."""
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 600
    while _lines(trace) < count and time.monotonic() < deadline and server.poll() is None:
        time.sleep(1)


def soak(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "ASSISTANT_RETRIEVAL__TOP_K": "2",
           "ASSISTANT_ANSWER__MAX_ANSWER_TOKENS": "32",
           "ASSISTANT_ANSWER__PROMPT_BUDGET_TOKENS": "500",
           "ASSISTANT_THREADS": os.environ.get("ASSISTANT_THREADS", "1")}
    verb = ["ui", "--data-dir", str(args.data_dir), "--model", args.model, "--port", str(port)]
    trace = args.trace.with_suffix(f".{mode}.jsonl") if args.trace else None
    if trace is not None:
        trace.unlink(missing_ok=True)
        command = [sys.executable, str(TRACE), str(trace), *verb]
    else:
        command = [sys.executable, "-m", "assistant.cli", *verb]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    marks = set(args.checkpoints) | {args.questions}
    result: dict[str, Any] = {"sessions": mode, "questions": 0, "errors": [], "rss_mb": {}}
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(1)
        else:
            why = server.stderr.read() if server.stderr else ""
            raise SystemExit(f"the UI did not start: {why}")
        stop_at = time.monotonic() + args.minutes * 60
        clients: list[Client] = []
        errors: list[str] = []
        rss: dict[int, float] = {}
        opened = 0
        started = time.monotonic()

        def connect(count: int) -> list[Client]:
            nonlocal opened
            opened += count
            return [Client(url, verbose=False, analytics_enabled=False, download_files=False,
                           httpx_kwargs={"timeout": 300}) for _ in range(count)]

        for n in range(1, args.questions + 1):
            if time.monotonic() > stop_at:
                break
            if not clients or (mode == "closed" and (n - 1) % args.renew == 0):
                for c in clients:
                    c.close()
                clients = connect(1 if mode == "long" else 2)
            try:
                final = clients[n % len(clients)].submit(
                    QUESTIONS[n % len(QUESTIONS)], args.model, 2, 0.0, True, False,
                    api_name=ASK).result(timeout=600)
                record = final[DETAILS]
                if not isinstance(record, dict) or not str(record.get("answer", "")).strip():
                    errors.append(f"{n}: empty answer record")
            except Exception as e:  # counted, not raised: the soak reports every error
                errors.append(f"{n}: {type(e).__name__}: {e}")
            result["questions"] = n
            if n in marks:
                rss[n] = round(rss_mb(server.pid), 1)
                if trace is not None:
                    _traced(server, trace, len(rss))
                print(f"{mode}: {n} questions, {time.monotonic() - started:.0f} s, server RSS "
                      f"{rss[n]} MB, {opened} sessions opened, {len(errors)} errors",
                      file=sys.stderr, flush=True)
        for c in clients:
            c.close()
        result["errors"] = errors
        result["rss_mb"] = rss
        result["sessions_opened"] = opened
        result["seconds"] = round(time.monotonic() - started)
        if 50 in rss:
            result["growth_after_50_mb"] = round(max(rss.values()) - rss[50], 1)
        if trace is not None:
            result["trace"] = str(trace)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--sessions", nargs="+", choices=MODES, default=["closed"],
                    help="closed: pairs of sessions closed every --renew questions; "
                         "long: one session for all; both: one run each, in turn")
    ap.add_argument("--questions", type=int, default=400)
    ap.add_argument("--checkpoints", type=checkpoints, default=[1, 50, 100, 150, 200, 400],
                    help="question counts at which to read RSS (and the last one)")
    ap.add_argument("--renew", type=int, default=10,
                    help="closed: questions per pair of sessions")
    ap.add_argument("--minutes", type=float, default=60.0, help="per mode")
    ap.add_argument("--model", default="llamacpp:smollm2-135m")
    ap.add_argument("--trace", type=Path, help="run the server under eval/soak_trace.py")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    results = {mode: soak(args, mode) for mode in dict.fromkeys(args.sessions)}
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if not any(r["errors"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
