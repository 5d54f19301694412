"""Soak the UI server: N questions through gradio_client, the server's RSS read every 50.

    PYTHONPATH=. python eval/soak.py --data-dir DIR [--questions 200] [--minutes 60]

Starts `assistant ui` on a free port over DIR's store (index one first, e.g. `assistant ingest
--data-dir DIR`), with SmolLM2-135M, top-k 2 and 32-token answers to keep each answer short;
asks the questions in turn from two alternating sessions (a new pair every 10 questions, as
browsers come and go), and stops at --minutes whatever is left. Prints and writes (--out) one
JSON object: RSS in MB after the first answer and at every 50, errors, and the growth after 50.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--model", default="llamacpp:smollm2-135m")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "ASSISTANT_RETRIEVAL__TOP_K": "2",
           "ASSISTANT_ANSWER__MAX_ANSWER_TOKENS": "32",
           "ASSISTANT_ANSWER__PROMPT_BUDGET_TOKENS": "500",
           "ASSISTANT_THREADS": os.environ.get("ASSISTANT_THREADS", "1")}
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ui", "--data-dir", str(args.data_dir),
         "--model", args.model, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    result: dict[str, object] = {"questions": 0, "errors": [], "rss_mb": {}}
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
        started = time.monotonic()
        for n in range(1, args.questions + 1):
            if time.monotonic() > stop_at:
                break
            if (n - 1) % 10 == 0:
                for c in clients:
                    c.close()
                clients = [Client(url, verbose=False, analytics_enabled=False,
                                  download_files=False, httpx_kwargs={"timeout": 300})
                           for _ in range(2)]
            try:
                final = clients[n % 2].submit(QUESTIONS[n % len(QUESTIONS)], args.model, 2,
                                              0.0, True, False, api_name=ASK).result(timeout=600)
                record = final[DETAILS]
                if not isinstance(record, dict) or not str(record.get("answer", "")).strip():
                    errors.append(f"{n}: empty answer record")
            except Exception as e:  # counted, not raised: the soak reports every error
                errors.append(f"{n}: {type(e).__name__}: {e}")
            result["questions"] = n
            if n == 1 or n % 50 == 0:
                rss[n] = round(rss_mb(server.pid), 1)
                print(f"{n} questions, {time.monotonic() - started:.0f} s, server RSS "
                      f"{rss[n]} MB, {len(errors)} errors", file=sys.stderr, flush=True)
        for c in clients:
            c.close()
        result["errors"] = errors
        result["rss_mb"] = rss
        result["seconds"] = round(time.monotonic() - started)
        if 50 in rss:
            result["growth_after_50_mb"] = round(max(rss.values()) - rss[50], 1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
