"""E-mail in and out: the outbox sender, the inbound intake, reply-to tokens."""
