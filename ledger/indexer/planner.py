"""Range planning: how many blocks the next ``eth_getLogs`` asks for, and
what a node's refusals teach about its limits.

Ranges aim at ``TARGET_LOGS`` logs, moving at most 4x per range; they halve
when the node refuses (too many results, range too wide, timeouts). What a
refusal says is learnt: a stated result cap lowers the aim to half that cap;
a stated block limit caps the span; an unstated block limit makes later
ranges probe halfway below the smallest refused span (forgotten after
``PROBE_AGAIN_AFTER`` ranges without a refusal). A fetch process hands what
it learnt back to the writer with each message (:attr:`RangePlanner.learned`),
for the next run.
"""

from __future__ import annotations

from ledger.evm.rpc import refusal_limit, suggested_range

#: Logs one eth_getLogs answer should carry; ranges adapt towards it. Half
#: the common provider cap of 10,000 results, so a denser stretch of blocks
#: is rarely refused; and a smaller first and last range shortens the time
#: the writer and the fetch process wait for each other.
TARGET_LOGS = 5_000
INITIAL_SPAN = 25
MAX_SPAN = 1_000_000
#: Ranges after which a block limit the node did not state is probed again.
PROBE_AGAIN_AFTER = 100

#: What the planner learnt: (span, target_logs, max_span, refused_span, ranges_since_refusal).
Learned = tuple[int, int, int, int | None, int]


class RangePlanner:
    """The span of the next range, and the node's limits learnt so far."""

    def __init__(
        self, target_logs: int = TARGET_LOGS, initial_span: int = INITIAL_SPAN, max_span: int = MAX_SPAN
    ) -> None:
        self.target_logs = target_logs
        self.span = initial_span
        self.max_span = max_span
        #: The smallest span a node limiting the blocks per query refused
        #: without saying its limit: later ranges probe below it, until
        #: PROBE_AGAIN_AFTER ranges later (the refusal may have been a
        #: passing one).
        self.refused_span: int | None = None
        self.ranges_since_refusal = 0

    def refused(self, exc: Exception, start: int, end: int) -> int:
        """Learn from the node refusing blocks ``start``..``end`` (a range
        refusal, see :func:`ledger.evm.rpc.is_range_refusal`); returns the span
        to ask for instead."""
        asked = end - start + 1
        limit = refusal_limit(exc)
        block_limit = limit is not None and limit.unit == "blocks"
        stated = limit.most if limit is not None and limit.most and (not block_limit or limit.most < asked) else None
        if stated and not block_limit:
            # Aim at half the node's cap, as TARGET_LOGS does for the
            # common cap, so later ranges are rarely refused again.
            self.target_logs = max(1, min(self.target_logs, stated // 2))
        elif stated:
            self.max_span = min(self.max_span, stated)
        elif block_limit:
            self.refused_span = min(self.refused_span or asked, asked)
            self.ranges_since_refusal = 0
        hint = suggested_range(exc)
        if hint is not None and hint[0] == start and start <= hint[1] < end:
            span = hint[1] - start + 1
        elif stated and block_limit:
            span = stated
        else:
            span = max(1, asked // 2)
        self.span = span
        return span

    def next_span(self, span: int, blocks: int, logs: int) -> int:
        """Aim the next range at ``target_logs`` logs, moving at most 4x either
        way; below a span the node refused for its number of blocks, probe
        halfway between that span and this one, which worked."""
        ideal = span * 4 if logs == 0 else blocks * self.target_logs // logs
        following = max(1, span // 4, min(ideal, span * 4, self.max_span))
        if self.refused_span is not None:
            self.ranges_since_refusal += 1
            if self.ranges_since_refusal >= PROBE_AGAIN_AFTER:
                self.refused_span = None
            elif following >= self.refused_span:
                following = max(span, (span + self.refused_span) // 2)
        self.span = following
        return following

    @property
    def learned(self) -> Learned:
        """What fetching learnt of the node's limits, to carry from the fetch
        process back to the writer's indexer."""
        return self.span, self.target_logs, self.max_span, self.refused_span, self.ranges_since_refusal

    @learned.setter
    def learned(self, state: Learned) -> None:
        self.span, self.target_logs, self.max_span, self.refused_span, self.ranges_since_refusal = state
