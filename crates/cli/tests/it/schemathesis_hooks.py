"""Schemathesis hooks for the OpenAPI conformance test: the admin's access token, fetched again
after any 401 (a fuzzed call may well end the session it was made with). Should the admin be
disabled or deleted by a fuzzed call, requests go on with a token that is refused: 401, which the
document allows, rather than an error in the run."""
import json
import os
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["TESSERA_URL"]


@schemathesis.auth(refresh_interval=5, retry_on=[401])
class AdminToken:
    def get(self, case, context):
        body = json.dumps({"username": "root", "password": os.environ["TESSERA_ROOT_PASSWORD"]})
        request = urllib.request.Request(
            f"{BASE}/api/token/",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)["access"]
        except urllib.error.HTTPError:
            return "refused.admin.token"

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
