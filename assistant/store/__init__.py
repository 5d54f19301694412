"""The store stage, one module per job:

- `chroma.py`: the Chroma adapter (`Store`, `open_store`, `store_identity`) and crash-safe
  replacement of a document's chunks by version.
- `damage.py`: telling a damaged embedded store from other failures, the one message for it,
  and Chroma's Rust noise kept off the terminal.
- `recovery.py`: a damaged store moved aside, a store to rebuild into, the doc ids its files name.
- `lock.py`: the data directory's write lock, one writer at a time.
"""
