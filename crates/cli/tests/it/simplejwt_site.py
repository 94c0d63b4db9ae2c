"""The real other side of the simplejwt settings tests: a Django REST framework site with
djangorestframework-simplejwt (its token blacklist app installed), configured with the SIMPLE_JWT
the test gives, run in-process through Django's test client.

Reads {"simple_jwt": {...}, "users": {...}, "saved": {...}, "steps": [...]} on standard input;
prints {"answers": [one per step], "saved": {...}}. A step is {"method", "path", "headers", "body",
"save", "wait"}; "$name" in a header or body value is a value saved by an earlier step ("save":
{"name": "field of the JSON answer"}) or given in "saved". Tokens in answers are described by their
claims' names (and type, user and lifetime), so two servers' answers compare.
"""
import base64
import json
import sys
import time
from datetime import timedelta

import django
from django.conf import settings

spec = json.load(sys.stdin)
simple_jwt = dict(spec["simple_jwt"])
for key in list(simple_jwt):
    if key.endswith("LIFETIME"):
        simple_jwt[key] = timedelta(seconds=simple_jwt[key])

settings.configure(
    SECRET_KEY="django-secret-key-not-used-for-tokens",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "rest_framework",
        "rest_framework_simplejwt",
        "rest_framework_simplejwt.token_blacklist",
    ],
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTAuthentication"
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    },
    SIMPLE_JWT=simple_jwt,
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt import views  # noqa: E402


class Me(APIView):
    """Tessera's /api/me/ answer, for a user without roles or claims."""

    def get(self, request):
        user = request.user
        return Response({"id": user.id, "username": user.username, "roles": [], "claims": {}})


urlpatterns = [
    path("api/token/", views.TokenObtainPairView.as_view()),
    path("api/token/refresh/", views.TokenRefreshView.as_view()),
    path("api/token/verify/", views.TokenVerifyView.as_view()),
    path("api/token/sliding/", views.TokenObtainSlidingView.as_view()),
    path("api/token/sliding/refresh/", views.TokenRefreshSlidingView.as_view()),
    path("api/me/", Me.as_view()),
]

call_command("migrate", verbosity=0)
for name, password in spec["users"].items():
    User.objects.create_user(name, password=password)


def claims_of(token):
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except Exception:
        return None


def describe(value, names):
    """A token as its claim names and the values that must agree; anything else as it is."""
    if isinstance(value, dict):
        return {k: describe(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [describe(v, names) for v in value]
    if isinstance(value, str) and value.count(".") == 2:
        claims = claims_of(value)
        if isinstance(claims, dict):
            return {
                "claims": sorted(claims),
                "type": claims.get(names["type"]),
                "user": claims.get(names["user"]),
                "lifetime": claims["exp"] - claims["iat"],
            }
    return value


names = {
    "type": simple_jwt.get("TOKEN_TYPE_CLAIM", "token_type"),
    "user": simple_jwt.get("USER_ID_CLAIM", "user_id"),
}
saved = dict(spec.get("saved", {}))


def fill(value):
    if isinstance(value, str):
        for name, text in saved.items():
            value = value.replace("$" + name, text)
        return value
    if isinstance(value, dict):
        return {k: fill(v) for k, v in value.items()}
    return value


client = Client()
results = []
for step in spec["steps"]:
    if step.get("wait"):
        time.sleep(step["wait"])
    headers = fill(step.get("headers", {}))
    body = fill(step.get("body"))
    call = getattr(client, step["method"].lower())
    if body is None:
        response = call(step["path"], headers=headers)
    else:
        response = call(step["path"], data=json.dumps(body), content_type="application/json", headers=headers)
    answer = response.json() if response.content else None
    for name, field in step.get("save", {}).items():
        saved[name] = answer[field]
    results.append({
        "status": response.status_code,
        "body": describe(answer, names),
        "www_authenticate": response.headers.get("WWW-Authenticate"),
    })
print(json.dumps({"answers": results, "saved": saved}))
