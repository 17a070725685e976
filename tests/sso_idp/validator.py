"""The claims the test provider vouches for: e-mail (verified unless the user is
listed as unverified), names and groups (under the ``groups`` scope)."""

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": user.username not in settings.UNVERIFIED,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "preferred_username": user.username,
            "groups": sorted(group.name for group in user.groups.all()),
        }
