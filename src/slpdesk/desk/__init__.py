"""The desk: organisations, sites, agreements, releases, policy versions and cases.

Every state change of a case goes through :mod:`slpdesk.desk.services`.
"""
