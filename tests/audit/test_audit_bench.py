"""The benchmark helpers `licit bench --audit` calls produce real measurements, interleaved."""

from __future__ import annotations

from conftest import example_items, raw

from audit.bench import interleaved, record_measures, typical_row_bytes


def test_record_measures_are_taken_in_rounds_and_log_every_item(tmp_path):
    items = example_items(40)
    assert 1000 < typical_row_bytes(items) < 10_000
    measures = record_measures(tmp_path, items, processes=2)
    try:
        rates = interleaved(measures, units=40, rounds=4)
    finally:
        for measure in measures.values():
            measure.close()
    assert set(rates) == {"bare", "record 1", "record n"} and all(rate > 0 for rate in rates.values())
    for log in ("records-1.db", "records-n.db"):  # each measure logged every item, once
        assert raw(tmp_path / log).execute("SELECT count(*) FROM decisions").fetchone() == (40,)


def test_interleaved_rounds_take_each_measure_in_turn():
    calls = []

    class Measure:
        def __init__(self, name):
            self.name = name

        def run(self, units):
            calls.append((self.name, units))
            return 0.5

        def close(self):
            pass

    rates = interleaved({"a": Measure("a"), "b": Measure("b")}, units=30, rounds=3)
    assert calls == [("a", 10), ("b", 10)] * 3 and rates == {"a": 20.0, "b": 20.0}
