"""The `assistant` command: thin verbs over the services. Results on stdout, logs on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from assistant.offline import apply_offline_env

# Offline by default: nothing may reach a model hub or phone home.
apply_offline_env()

from assistant.answer.checks import names as check_names  # noqa: E402
from assistant.errors import AssistantError, BadQuestion, ConfigError  # noqa: E402
from assistant.eval.questions import KINDS, SPLITS  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402

log = logging.getLogger("assistant")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="settings file (TOML); env ASSISTANT_CONFIG")
    p.add_argument("--data-dir", type=Path, help="data directory; env ASSISTANT_DATA_DIR")
    p.add_argument("--collection", help="corpus collection; env ASSISTANT_COLLECTION")
    p.add_argument("--chroma-url", help="Chroma server URL; env ASSISTANT_CHROMA_URL/CHROMA_HOST")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", help="llamacpp:<name|path.gguf>, ollama:<model>, openai:<url>#<model>; "
        "env ASSISTANT_MODEL",
    )


def _serving_args(p: argparse.ArgumentParser, env: str, port: int, auth_help: str) -> None:
    """--host, --port and --auth of a server verb, defaults from ASSISTANT_<env>_HOST etc."""
    p.add_argument("--host", default=os.environ.get(f"ASSISTANT_{env}_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int,
                   default=int(os.environ.get(f"ASSISTANT_{env}_PORT", str(port))))
    p.add_argument("--auth", default=os.environ.get(f"ASSISTANT_{env}_AUTH"), help=auth_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="Local, private, cited answers over an article corpus."
    )
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("ingest", help="index the shipped corpus, or files/folders you name")
    _common(p)
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: shipped corpus)")
    p.add_argument("--rebuild", action="store_true",
                   help="index anew from the manifest, uploads and web cache; a damaged store "
                   "is kept aside")
    p.add_argument("--remove", metavar="DOC_ID", action="append", help="remove a document")
    p.add_argument("--list", action="store_true", help="list the indexed documents")
    p.add_argument("--url", action="append", dest="urls", metavar="URL",
                   help="fetch a web page (repeatable); its main text is indexed")
    p.add_argument("--follow-links", action="store_true",
                   help="also fetch the pages the article body links to (not menus/footers)")
    p.add_argument("--depth", type=int, default=None,
                   help="link hops to follow with --follow-links (default 1)")
    p.add_argument("--same-site", action="store_true",
                   help="follow only links on the start page's site; others are reported")
    p.add_argument("--max-pages", type=int, default=20,
                   help="most pages fetched in all; start URLs always are (default 20)")
    p.add_argument("--offline", action="store_true",
                   help="use only the local web cache (re-ingest or rebuild without network)")
    p.add_argument("--fetch-linked", action="store_true",
                   help="fetch the manifest's [[linked]] news pieces (skipped when offline)")
    p.add_argument("--delay", type=float, default=1.0,
                   help="seconds between requests to one host (default 1.0)")

    p = sub.add_parser("doctor", help="check the store against the manifest (exit 1 if broken)")
    _common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("ask", help="answer one question with citations")
    _common(p)
    _model_arg(p)
    p.add_argument("question")
    p.add_argument("--history", type=Path, help="JSON file: [{role, content}, ...]")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--top-k", type=int)
    p.add_argument("--doc", action="append", dest="docs", default=[], metavar="DOC_ID",
                   help="search only this document (repeatable; ids: `assistant ingest --list`)")
    p.add_argument("--publisher", action="append", dest="publishers", default=[],
                   metavar="NAME", help="search only this publisher's documents (repeatable)")
    p.add_argument("--compare", action="append", metavar="SPEC", default=[],
                   help="answer with this model too, from the same passages (repeat for a "
                   "third; one --compare is compared with --model or the default)")

    p = sub.add_parser("chat", help="chat in the terminal (streaming, follow-ups)")
    _common(p)
    _model_arg(p)

    p = sub.add_parser("ui", help="start the Gradio chat")
    _common(p)
    _model_arg(p)
    _serving_args(p, "UI", 7860, "user:password; required to bind anything but loopback")

    p = sub.add_parser("serve", help="serve an OpenAI-compatible API (/v1/chat/completions)")
    _common(p)
    _model_arg(p)
    _serving_args(p, "SERVE", 8001, "a key (clients send it as a bearer token) or user:password; "
                  "required to bind anything but loopback; env ASSISTANT_SERVE_AUTH")

    p = sub.add_parser("mcp", help="serve the assistant to MCP clients (stdio; HTTP with --http)")
    _common(p)
    _model_arg(p)
    p.add_argument("--http", action="store_true",
                   help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    _serving_args(p, "MCP", 8002, "with --http: a key clients send as `Authorization: Bearer "
                  "<key>` (or user:password); required to bind anything but loopback; env "
                  "ASSISTANT_MCP_AUTH")

    p = sub.add_parser("models", help="list models, or pull a catalog model")
    _common(p)
    p.add_argument("action", nargs="?", choices=["list", "pull"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--force", action="store_true", help="reinstall and re-assemble")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="run the evaluation question set against models")
    _common(p)
    p.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"),
                   help="a question file; `mine` is the answers you corrected in the chat")
    p.add_argument("--model", action="append", dest="models", help="repeat for several models")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--kinds", nargs="+", choices=KINDS)
    p.add_argument("--fresh", action="store_true", help="ignore earlier results in --out")
    p.add_argument("--split", nargs="+", choices=SPLITS, dest="splits",
                   help="only the questions of these splits (default: all)")
    p.add_argument("--without", action="append", metavar="CHECK", default=[],
                   help="turn an answer check off for this run, to measure what it is worth "
                   "(repeatable; names: " + ", ".join(check_names()) + ")")
    p.add_argument("--baseline", type=Path, metavar="DIR",
                   help="an earlier run's --out: report which answers changed against it and "
                   "whether the difference is more than noise")
    p.add_argument("--retrieval-only", action="store_true",
                   help="no model: freeze retrieval into --out and print hit@k and whether each "
                   "answer is in the passages, per split (seconds, not an hour)")

    p = sub.add_parser("bench", help="measure speed and memory against baselines")
    _common(p)
    _model_arg(p)
    p.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--out", type=Path)
    p.add_argument("--scale-chunks", type=int, nargs="+", default=[10_000],
                   help="sizes of the generated corpora searched (e.g. 10000 100000 1000000)")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["answers", "ingest", "naive", "raw", "compare", "scale", "ui",
                            "start"])
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config,
        data_dir=args.data_dir,
        collection=args.collection,
        chroma_url=args.chroma_url,
        model=getattr(args, "model", None),
    )


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ingest.corpus_service import CorpusService
    from assistant.ingest.pipeline import ingest, sources_from_paths

    corpus = CorpusService(settings)
    if args.list or args.remove:
        for doc_id in args.remove or []:
            removed = corpus.remove(doc_id)
            print(removed.summary() if removed.indexed or removed.files
                  else f"no such doc {doc_id}")
        if args.list:
            for r in sorted(corpus.documents(), key=lambda r: r.doc_id):
                print(f"{r.doc_id}\t{r.chunks} chunks\t{r.meta.get('title', '')}")
        return 0
    web = bool(args.urls or args.fetch_linked)
    problems = [
        *(["--depth needs --follow-links"] if args.depth is not None and not args.follow_links
          else []),
        *(["--depth must be at least 1"] if args.depth is not None and args.depth < 1 else []),
        *(["--max-pages must be at least 1"] if args.max_pages < 1 else []),
        *(["--delay cannot be negative"] if args.delay < 0 else []),
        *(["--follow-links, --same-site and --offline go with --url or --fetch-linked"]
          if not web and (args.follow_links or args.offline or args.same_site) else []),
    ]
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    skipped: list[tuple[str, str]] = []
    rebuild = args.rebuild
    if rebuild and not args.paths and not web:
        recovered = corpus.rebuild(progress=True)
        print(recovered.summary())
        for name, why in recovered.skipped:
            print(f"skipped {name}: {why}", file=sys.stderr)
        return 0 if not recovered.skipped else 1
    if args.paths or not web:
        sources, skipped = (None, []) if not args.paths else sources_from_paths(args.paths)
        report = ingest(settings, sources, rebuild=rebuild)
        skipped += report.failed
        print(report.summary())
        rebuild = False
    if web:
        from assistant.ingest.web import (
            DUPLICATE,
            NOT_FETCHED,
            CrawlOptions,
            ingest_linked,
        )

        reports = []
        crawl = CrawlOptions(
            follow_links=args.follow_links, depth=args.depth or 1, same_site=args.same_site,
            max_pages=args.max_pages, offline=args.offline, delay_s=args.delay,
        )
        if args.urls:
            reports.append(corpus.import_urls(args.urls, crawl, progress=True, rebuild=rebuild))
            rebuild = False
        if args.fetch_linked:
            reports.append(ingest_linked(settings, crawl, rebuild=rebuild))
        for web_report in reports:
            for outcome in web_report.outcomes():
                if outcome.status in (DUPLICATE, NOT_FETCHED):
                    print(outcome.line(), file=sys.stderr)
            if web_report.not_followed:
                print(f"{len(web_report.not_followed)} links not followed: page cap reached "
                      f"(raise --max-pages)", file=sys.stderr)
            skipped += web_report.skipped
            print(web_report.summary())
    for name, why in skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    return 0 if not skipped else 1


def _history(path: Path | None) -> list[dict[str, str]]:
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadQuestion(f"Cannot read history file {path}: {e}",
                          'give a JSON list like [{"role": "user", "content": "..."}]') from e
    if not isinstance(data, list) or not all(
        isinstance(m, dict) and m.get("role") in ("user", "assistant") and "content" in m
        for m in data
    ):
        raise BadQuestion(f"History file {path} is not a list of {{role, content}} messages",
                          'roles are "user" or "assistant"')
    return data


def format_sources(result: Any) -> str:
    lines = []
    for c in result.citations():
        where = " — ".join(x for x in (c["title"], c["locator"]) if x)
        flag = "" if c["supported"] else "  (not supported by this passage)"
        lines.append(f"  [{c['n']}] {where}{flag}\n      {c['url']}")
    return "\n".join(lines)


def format_pointed(result: Any) -> str:
    """The passages an unanswered question's draft pointed at (see AnswerResult.pointed)."""
    lines = []
    for p in result.pointed_passages():
        where = " — ".join(x for x in (p["title"], p["locator"]) if x)
        lines.append(f"  [{p['n']}] {where}  (pointed at, unconfirmed)\n      {p['url']}")
    return "\n".join(lines)


def answer_notes(result: Any, settings: Settings) -> list[str]:
    """What the reader should know about how the answer came about."""
    notes = []
    if result.quoted:
        notes.append("  (quoted from the passage: the model did not answer in words; this is the "
                     "sentence that best matches the question, so check that it answers it)")
    given = {p.chunk_id for p in result.passages}
    left_out = [p for p in result.retrieved if p.chunk_id not in given]
    if given and left_out:
        notes.append(f"  ({len(left_out)} of {len(result.retrieved)} retrieved passages did not "
                     f"fit the {settings.answer.prompt_budget_tokens}-token prompt budget and "
                     "were not given to the model; `--json` marks them in_prompt: false)")
    if result.cut_off:
        limit = settings.answer.max_answer_tokens
        notes.append(f"  (cut off at the {limit}-token answer limit: ask a narrower question, "
                     "or raise ASSISTANT_ANSWER__MAX_ANSWER_TOKENS)")
    return notes


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.doctor import check

    report = check(settings)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.chat import ChatService
    from assistant.events import Progress

    service = ChatService(settings)
    history = _history(args.history)
    if args.compare:
        return _compare(args, settings, service, history)
    progress = Progress()
    for event in service.stream(args.question, history, top_k=args.top_k, docs=args.docs,
                                publishers=args.publishers):
        if progress.add(event) == "piece" and not args.json:
            print(progress.piece, end="", flush=True, file=sys.stderr)
    result = progress.result
    assert result is not None
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(file=sys.stderr)
        _print_answer(result, settings)
    return 0


def _print_answer(result: Any, settings: Settings) -> None:
    print(result.answer)
    for note in answer_notes(result, settings):
        print(note)
    if result.scope:
        print(f"  (searched only: {', '.join(result.scope)})")
    if result.citations():
        print("Sources:\n" + format_sources(result))
    elif result.pointed:
        print(format_pointed(result))


def compare_specs(compare: list[str], model: str) -> list[str]:
    """The models of `ask --compare`: one --compare is set beside the chosen (or default) model."""
    return compare if len(compare) > 1 else [model, *compare]


def _compare(args: argparse.Namespace, settings: Settings, service: Any,
             history: list[dict[str, str]]) -> int:
    from assistant.chat import Comparison
    from assistant.events import Progress

    specs = compare_specs(args.compare, settings.model)
    # The comparison ChatService.compare_all makes, its answers shown as they stream.
    progress = Progress()
    for event in service.compare(args.question, specs, history, top_k=args.top_k,
                                 docs=args.docs, publishers=args.publishers):
        kind = progress.add(event)
        if kind == "model" and not args.json:
            print(f"\n── {progress.model}", file=sys.stderr)
        elif kind == "piece" and not args.json:
            print(progress.piece, end="", flush=True, file=sys.stderr)
    comparison = Comparison.of(args.question, progress)
    results = comparison.results
    if args.json:
        print(json.dumps(comparison.to_json(), ensure_ascii=False))
        return 0
    print(file=sys.stderr)
    for r in results:
        t = r.timings
        seconds = max(0.0, t.get("total_ms", 0.0) - t.get("retrieve_ms", 0.0)) / 1000
        print(f"\n== {r.model}  ({seconds:.1f} s, {r.prompt_tokens} prompt tokens)")
        _print_answer(r, settings)
    count = len(results[0].retrieved) if results else 0
    print(f"\n{len(results)} models answered from the same {count} passages in "
          f"{comparison.total_ms / 1000:.1f} s (searched once).")
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.chat import ChatService
    from assistant.events import Progress

    service = ChatService(settings)
    history: list[dict[str, str]] = []
    print(f"Chatting with {settings.model}. Empty line or Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            question = input("you> ")
        except (EOFError, KeyboardInterrupt):
            break
        if not question.strip():
            break
        try:
            progress = Progress()
            print("assistant> ", end="", flush=True)
            for event in service.stream(question, history):
                if progress.add(event) == "piece":
                    print(progress.piece, end="", flush=True)
            result = progress.result
            assert result is not None
            print(f"\r\033[Kassistant> {result.answer}")
            for note in answer_notes(result, settings):
                print(note)
            if result.searched:
                print(f"  (searched: {result.searched})")
            if result.citations():
                print(format_sources(result))
            elif result.pointed:
                print(format_pointed(result))
            history += [{"role": "user", "content": question},
                        {"role": "assistant", "content": result.answer}]
        except AssistantError as e:
            print(f"\nerror: {e}", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.models import catalog
    from assistant.models.registry import available_models

    if args.action == "pull":
        if not args.name:
            print(f"name a model: {', '.join(catalog.CATALOG)}", file=sys.stderr)
            return 2
        path = catalog.pull(settings.models_dir, args.name, force=args.force)
        print(f"installed {args.name}: {path}")
        return 0
    choices = available_models(settings)
    if args.json:
        print(json.dumps([c.__dict__ for c in choices]))
        return 0
    for c in choices:
        mark = "*" if c.spec == settings.model else " "
        disk = f"{c.disk_bytes / 1e6:,.0f} MB" if c.disk_bytes else "-"
        print(f"{mark} {c.spec:<36} {'installed' if c.installed else 'available'}  {disk:>8}  "
              f"{c.about}")
        if c.cleanup:
            # `make test` installs the test model's package on purpose (tests assemble it
            # offline); any other copy is left by an older version's pull.
            print(f"    (a second copy sits in this Python environment as packages; `{c.cleanup}` "
                  f"removes it, unless `make test` put it there for the tests)")
    return 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    # The engine does not import its front end: the UI package registers its launcher under
    # this entry point (pyproject.toml), so `assistant/` never depends on `ui/`.
    found = entry_points(group="article_assistant.frontends", name="ui")
    if not found:
        raise ConfigError("The chat UI is not installed with this engine",
                          "install the project with `make setup` (or `pip install -e .`)")
    launch = next(iter(found)).load()
    launch(settings, host=args.host, port=args.port, auth=args.auth)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.openai_api import run

    run(settings, host=args.host, port=args.port, auth=args.auth)
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.mcp_server import run

    run(settings, http=args.http, host=args.host, port=args.port, auth=args.auth)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.retrieval_only:
        from assistant.eval.retrieval_check import check_retrieval

        print(check_retrieval(settings, args.questions, args.out, limit=args.limit,
                              kinds=args.kinds, splits=args.splits))
        return 0
    from assistant.eval.runner import run_eval

    summary = run_eval(settings, args.questions, args.models or [settings.model], args.out,
                       limit=args.limit, kinds=args.kinds, fresh=args.fresh,
                       baseline=args.baseline, splits=args.splits, without=args.without)
    print(summary)
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.eval.bench import run_bench

    run_bench(settings, args.questions, args.limit, args.out, args.scale_chunks, set(args.skip))
    return 0


COMMANDS = {
    "ingest": cmd_ingest, "ask": cmd_ask, "chat": cmd_chat, "ui": cmd_ui, "serve": cmd_serve,
    "mcp": cmd_mcp, "models": cmd_models, "eval": cmd_eval, "bench": cmd_bench,
    "doctor": cmd_doctor,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "urllib3", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.verb in ("ui", "serve", "mcp"):
        # Long-running servers: their worker threads' malloc arenas (assistant/memory.py).
        from assistant.memory import limit_arenas

        limit_arenas()
    try:
        settings = settings_from(args)
        return COMMANDS[args.verb](args, settings)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
