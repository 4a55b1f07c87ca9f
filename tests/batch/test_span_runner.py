"""The span runner: parts come back in log order whatever order workers finish in; a failing or dying
worker is one clear error, not a traceback or a hang."""
import os
import time
from dataclasses import dataclass

import pytest

from audit.spans import Selection, Span
from engine.batch.span_runner import SpanWorkError, plan, run_spans
from rules.errors import RuleError, RuleSetError
from tests.batch.conftest import seeded


@dataclass(frozen=True)
class Seqs:
    """A job that returns the sequence numbers of its span; the first span is the slowest."""

    fail: str = ""

    def start(self, conn):
        return os.getpid()

    def run(self, pid, records):
        seqs = [record.seq for record in records]
        if self.fail == "die" and seqs[0] > 1:
            os._exit(3)
        if self.fail == "rules":
            raise RuleSetError([RuleError("CN/a.yaml", 1, 2, "bad", "a located error")])
        if seqs[0] == 1:
            time.sleep(0.5)
        return pid, seqs


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return seeded(tmp_path_factory.mktemp("runner") / "log.db", 120, days=5)


def test_parts_come_back_in_span_order_from_several_workers(log):
    spans = plan(log, Selection(), width=10)
    assert [(span.first, span.last, span.count) for span in spans[:2]] == [(1, 10, 10), (11, 20, 10)]
    parts = list(run_spans(log, Selection(), Seqs(), spans, workers=2))
    assert [seq for _, seqs in parts for seq in seqs] == list(range(1, 121))
    assert len({pid for pid, _ in parts}) == 2 and os.getpid() not in {pid for pid, _ in parts}


def test_one_worker_runs_in_this_process(log):
    parts = list(run_spans(log, Selection(), Seqs(), plan(log, Selection(), width=50), workers=1))
    assert {pid for pid, _ in parts} == {os.getpid()}


def test_a_span_reads_only_the_positions_it_keeps(log):
    [part] = run_spans(log, Selection(), Seqs(), [Span(1, 120, 120, keep=(0, 5, 119))], workers=1)
    assert part[1] == [1, 6, 120]


def test_an_error_in_a_worker_arrives_as_its_message(log):
    with pytest.raises(SpanWorkError, match=r"^CN/a.yaml:1:2: bad: a located error$"):
        list(run_spans(log, Selection(), Seqs("rules"), plan(log, Selection(), width=10), workers=2))


def test_a_worker_that_dies_is_one_clear_error(log):
    with pytest.raises(SpanWorkError, match="a worker process died"):
        list(run_spans(log, Selection(), Seqs("die"), plan(log, Selection(), width=10), workers=2))
