from assistant.retrieve.fusion import diversify, rrf


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = rrf([(["a", "b", "c"], 1.0), (["c", "a"], 2.0)], k=1)
    # a: 1/2 + 2/3 ; c: 1/4 + 2/2 ; b: 1/3
    assert fused == [("c", 1.25), ("a", 1 / 2 + 2 / 3), ("b", 1 / 3)]


def test_rrf_ties_keep_first_seen_order():
    assert [i for i, _ in rrf([(["x"], 1.0), (["y"], 1.0)], k=60)] == ["x", "y"]


def test_diversify_caps_one_document_and_backfills():
    ranked = [("law1", 0.9), ("law2", 0.8), ("law3", 0.7), ("art1", 0.6), ("law4", 0.5)]
    doc_of = {"law1": "law", "law2": "law", "law3": "law", "law4": "law", "art1": "article"}
    assert diversify(ranked, doc_of, top_k=3, max_per_doc=2) == [
        ("law1", 0.9), ("law2", 0.8), ("art1", 0.6)]
    # Only one other document exists: the cap gives way rather than return fewer passages.
    assert diversify(ranked, doc_of, top_k=4, max_per_doc=2) == [
        ("law1", 0.9), ("law2", 0.8), ("law3", 0.7), ("art1", 0.6)]
