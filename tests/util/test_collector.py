"""util/collector.paced: the young generation's threshold raised for a block, only its own
change undone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from neurolink_cli.util.collector import PACE, paced


@pytest.fixture(autouse=True)
def _threshold() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_raised_within_and_restored_after() -> None:
    with paced():
        assert gc.get_threshold() == (PACE, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), paced(5000):
        assert gc.get_threshold()[0] == 5000
        raise RuntimeError
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_blocks_leave_the_outer_threshold() -> None:
    with paced(5000):
        with paced(5000):
            assert gc.get_threshold()[0] == 5000
        assert gc.get_threshold()[0] == 5000  # the inner block changed nothing
        with paced(100):  # already slower than asked
            assert gc.get_threshold()[0] == 5000
        with paced(9000):
            assert gc.get_threshold()[0] == 9000
        assert gc.get_threshold()[0] == 5000
    assert gc.get_threshold() == (700, 10, 10)


def test_a_change_made_inside_the_block_survives() -> None:
    with paced():
        gc.set_threshold(1234, 5, 6)
    assert gc.get_threshold() == (1234, 5, 6)
    gc.set_threshold(700, 10, 10)
    with paced():
        gc.set_threshold(PACE, 7, 8)  # the older generations changed, ours kept
    assert gc.get_threshold() == (700, 7, 8)


def test_collection_off_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    with paced():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 10, 10)


def test_export_all_runs_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from neurolink_cli.export import run
    from neurolink_cli.export.transform import ExportOptions

    seen: list[int] = []

    def fake(*_args: object) -> None:
        seen.append(gc.get_threshold()[0])

    monkeypatch.setattr(run, "_export_all", fake)
    run.export_all(None, ExportOptions(format="jsonl"), io.BytesIO())  # type: ignore[arg-type]
    assert seen == [PACE]
    assert gc.get_threshold() == (700, 10, 10)
