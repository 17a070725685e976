"""Knowing where we stand: the compliance report, charts, exports, the live board and
the policy what-if simulator."""
