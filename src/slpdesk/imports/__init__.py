"""Cases from elsewhere: ``slpdesk import`` (:mod:`.cases`) and the converters of
``slpdesk import-from`` (:mod:`.helpdesk`, :mod:`.zendesk`), which write its JSON Lines."""
