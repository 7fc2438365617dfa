from __future__ import annotations

from pathlib import Path

from streambuild.results import ResultStore, result_key


def test_key_depends_on_every_input() -> None:
    base = dict(name="a", commit="1" * 40, source_digest="d", base="fedora-44-x86_64", macros=[("dist", ".fc44")],
                backend="local", dependency_keys=["k1", "k2"])
    key = result_key(**base)  # type: ignore[arg-type]
    assert key == result_key(**{**base, "dependency_keys": ["k2", "k1"]})  # type: ignore[arg-type]
    for field, value in [("commit", "2" * 40), ("source_digest", "e"), ("base", "fedora-43-x86_64"),
                         ("macros", [("dist", ".fc43")]), ("backend", "mock"), ("dependency_keys", ["k1"])]:
        assert result_key(**{**base, field: value}) != key  # type: ignore[arg-type]


def test_store_put_get_and_incomplete_results(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "results"))
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "a-1-1.noarch.rpm").write_bytes(b"rpm")
    stored = store.put("a", "k" * 64, str(staged), [str(staged / "a-1-1.noarch.rpm")], None, 2.5)
    assert [Path(p).name for p in stored.rpms] == ["a-1-1.noarch.rpm"] and not staged.exists()
    assert store.get("a", "k" * 64) == stored
    assert store.last_duration("a") == 2.5
    Path(stored.rpms[0]).unlink()  # a result missing an RPM is no result
    assert store.get("a", "k" * 64) is None
    assert store.get("b", "x") is None and store.last_duration("b") is None
