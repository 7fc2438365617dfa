"""Expected build durations: a build service's history, then the result store, then the sources' size."""

from __future__ import annotations

from streambuild.durations import BASE_SECONDS, HISTORY, RESULTS, SIZE, estimate, size_guess, summary
from streambuild.results import ResultStore
from streambuild.sources import PreparedSource


def source(tmp_path, name, size):
    directory = tmp_path / "src" / name
    directory.mkdir(parents=True)
    (directory / f"{name}.spec").write_text("Name: x\n")
    (directory / "tarball.tar.gz").write_bytes(b"\0" * size)
    return PreparedSource(name, str(directory), f"{name}.spec", "0" * 64)


def stored(tmp_path, store, name, seconds):
    staged = tmp_path / f"staged-{name}"
    staged.mkdir()
    (staged / "build.log").write_text("built\n")
    store.put(name, "k" * 64, str(staged), [], None, seconds)


def test_history_then_results_then_size(tmp_path):
    sources = {n: source(tmp_path, n, s) for n, s in (("big", 50_000_000), ("old", 10), ("known", 10), ("new", 10))}
    store = ResultStore(str(tmp_path / "results"))
    stored(tmp_path, store, "old", 321.0)
    stored(tmp_path, store, "known", 5.0)
    asked = []

    def hub(names):
        asked.append(list(names))
        return {"known": 4000.0, "nobody": 1.0}

    got = estimate(sources, store, hub)
    assert asked == [["big", "old", "known", "new"]]  # one question, for every component
    assert got["known"].seconds == 4000.0 and got["known"].source == HISTORY  # the hub beats the store
    assert got["old"].seconds == 321.0 and got["old"].source == RESULTS
    assert got["new"].source == SIZE and got["big"].source == SIZE
    assert got["big"].seconds > got["new"].seconds >= BASE_SECONDS  # bigger sources, longer builds
    assert summary(got) == ("1 from the build service's history, 1 from earlier builds here, "
                            "2 guessed from the sources' size")


def test_a_result_brought_home_without_a_time_is_no_estimate(tmp_path):
    sources = {"k": source(tmp_path, "k", 10)}
    store = ResultStore(str(tmp_path / "results"))
    stored(tmp_path, store, "k", 0.0)  # the koji backend stores results whose build time it does not know
    assert estimate(sources, store).get("k").source == SIZE


def test_size_guess_grows_with_the_sources(tmp_path):
    small, large = source(tmp_path, "s", 1_000), source(tmp_path, "l", 100_000_000)
    assert size_guess(large.directory) - size_guess(small.directory) > 1000


def test_a_size_counted_when_the_sources_were_prepared_is_not_counted_again(tmp_path) -> None:
    from streambuild.durations import BASE_SECONDS, SECONDS_PER_MB, estimate
    from streambuild.sources import PreparedSource

    gone = PreparedSource("a", str(tmp_path / "not-there"), "a.spec", "d", 3_000_000)
    assert estimate({"a": gone})["a"].seconds == BASE_SECONDS + SECONDS_PER_MB * 3
