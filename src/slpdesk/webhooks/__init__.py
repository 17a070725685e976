"""Signed webhooks: subscriptions an administrator keeps, deliveries written in the
transaction of the change that causes them (:func:`emit`) and sent by the worker
(:mod:`.delivery`), each an HTTP POST signed with the subscription's secret."""
