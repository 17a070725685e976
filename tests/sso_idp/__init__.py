"""A real OpenID Connect provider for the single sign-on tests: a second Django
process running django-oauth-toolkit (authorisation-code flow, PKCE, RS256-signed
ID tokens, JWKS, discovery, userinfo) on 127.0.0.1, with its own SQLite database.
Started by ``tests/browser/test_sso.py`` through :mod:`sso_idp.serve`."""
