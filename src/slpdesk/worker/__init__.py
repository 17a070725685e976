"""``slpdesk worker``: the background loop that makes the policy's promises act by
themselves (:mod:`.loop`), its steps (:mod:`.steps`), how a step claims a row
safely with several workers running (:mod:`.claims`), and when a case's SLA
next needs attention (:mod:`.schedule`)."""
