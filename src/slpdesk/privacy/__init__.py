"""Personal data: a person's export, their erasure, and retention (issue 16)."""
