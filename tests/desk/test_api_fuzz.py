"""Schemathesis against the API's own OpenAPI document, once per role, in-process
(the WSGI application, the test database).

For every operation, generated requests (valid ones and, with schemathesis'
negative mode, invalid ones) are sent with the role's token, aimed at a random
case number, at the role's own case, or at another organisation's; and the same
valid requests without a token. Checks:

* no 5xx, status codes, content types, headers and bodies as the document says,
  invalid data refused (4xx), and a token-protected operation refuses a request
  without one or with a bad one (schemathesis' ``ignored_auth``);
* without a token: 401, whatever else the request says;
* another organisation's case, file or organisation: the very answer a missing
  one gets (status and body), never a 2xx.

Each example runs in a savepoint that is rolled back, so every example meets the
same world. Bounded: ``SLPDESK_FUZZ_EXAMPLES`` examples per operation and kind
(default 10); deterministic unless ``SLPDESK_FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from desk.api_world import CONTACTS, build_world

EXAMPLES = int(os.environ.get("SLPDESK_FUZZ_EXAMPLES", "10"))
RANDOM = os.environ.get("SLPDESK_FUZZ_RANDOM", "") == "1"
#: The roles of the issue: one run each.
ROLES = ("customer", "partner", "agent", "manager", "executive", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, ignored_auth]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
MISSING = {"number": "SLP-999999", "attachment_id": 999_999_999,
           "organisation_id": 999_999_999}


@pytest.fixture
def world(cast, settings):
    settings.SLPDESK_API_RATE = "off"
    return build_world(cast)


@pytest.fixture(scope="module")
def app():
    return get_wsgi_application()


@pytest.fixture
def schema(app, in_process):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def in_process(db):
    """The WSGI handler must not close the test's database connection after each
    request (as Django's own test client arranges)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _targets(world, role: str) -> dict[str, dict]:
    """Path parameters of the role's own objects and of another organisation's."""
    own = world.endco if role == "partner" else world.acme
    other = world.other
    return {
        "own": {"number": own.case.number, "attachment_id": own.public_file.pk,
                "organisation_id": own.case.organisation_id},
        "other": {"number": other.case.number, "attachment_id": other.public_file.pk,
                  "organisation_id": other.case.organisation_id},
    }


def _strategy(operation, targets: dict[str, dict]):
    """(case, target) pairs: generated, own, other and anonymous from valid data, and
    generated from invalid data."""
    names = {p.name for p in operation.path_parameters}
    options = [st.tuples(operation.as_strategy(), st.sampled_from(["generated", "anonymous"])),
               st.tuples(operation.as_strategy(GenerationMode.NEGATIVE), st.just("negative"))]
    for target, params in targets.items():
        fixed = {k: v for k, v in params.items() if k in names}
        if fixed and set(fixed) == names:
            options.append(st.tuples(operation.as_strategy(path_parameters=fixed),
                                     st.just(target)))
    return st.one_of(options)


def _body(response):
    try:
        return response.json()
    except ValueError:
        return response.content


def _fuzz(operation, app, token: dict, targets: dict, contact: bool) -> None:
    @given(pair=_strategy(operation, targets))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(pair):
        case, target = pair
        with transaction.atomic():
            if target == "anonymous":
                response = case.call(app=app)
                assert response.status_code == 401, (operation.label, response.text)
                assert response.json()["code"] == "unauthenticated"
            else:
                checks = NEGATIVE_CHECKS if target == "negative" else CHECKS
                response = case.call_and_validate(headers=token, checks=checks, app=app)
                if target == "other" and contact:
                    mine = (response.status_code, _body(response))
                    for name in [p.name for p in operation.path_parameters]:
                        case.path_parameters[name] = MISSING[name]
                    missing = case.call(headers=token, app=app)
                    assert mine == (missing.status_code, _body(missing)), operation.label
                    assert not 200 <= mine[0] < 300, operation.label
            transaction.set_rollback(True)

    run()


@pytest.mark.parametrize("role", ROLES)
def test_schemathesis(role, world, schema, app, in_process):
    targets = _targets(world, role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        _fuzz(operation, app, world.header(role), targets, role in CONTACTS)
