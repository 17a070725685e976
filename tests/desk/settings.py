"""Settings for the test suite: ``slpdesk.settings`` with a throwaway data directory.

``SLPDESK_DATABASE_URL`` still selects PostgreSQL (the suite runs on both).
"""

import atexit
import os
import shutil
import tempfile

if not os.environ.get("SLPDESK_DATA_DIR"):
    _data_dir = tempfile.mkdtemp(prefix="slpdesk-test-")
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
    os.environ["SLPDESK_DATA_DIR"] = _data_dir

from slpdesk.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite logs administrators in without a second factor and fuzzes the API without
# tokens; the tests of these protections switch them on for themselves.
SLPDESK_REQUIRE_2FA = "off"
SLPDESK_API_ANON_RATE = "off"
