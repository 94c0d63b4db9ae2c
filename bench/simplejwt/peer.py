"""The peer: djangorestframework-simplejwt on Django + SQLite, as its documentation sets it up, with
ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION on (Tessera's defaults), for bench/run.sh.

    python peer.py setup N      # migrate a fresh database and create users user0..user{N-1}
    gunicorn peer:application   # serve it

Environment: PEER_DB (database file), PEER_ALG (HS256 or ES256), PEER_KEY_DIR (ES256 PEM keys),
PEER_FAST_HASH=1 (MD5 password hasher: only to mint token pools quickly; logins are measured with
Django's default PBKDF2).
"""
import os
import sys

from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))
ALG = os.environ.get("PEER_ALG", "HS256")


def _keys():
    if ALG == "HS256":
        secret = "tessera-bench-shared-hs256-secret-0123456789"
        return secret, None
    key_dir = os.environ["PEER_KEY_DIR"]
    with open(os.path.join(key_dir, "private.pem")) as f:
        private = f.read()
    with open(os.path.join(key_dir, "public.pem")) as f:
        public = f.read()
    return private, public


if not settings.configured:
    signing, verifying = _keys()
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "rest_framework_simplejwt.token_blacklist",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.environ.get("PEER_DB", os.path.join(HERE, "peer.sqlite3")),
                "OPTIONS": {"timeout": 30},
            }
        },
        PASSWORD_HASHERS=(
            ["django.contrib.auth.hashers.MD5PasswordHasher"]
            if os.environ.get("PEER_FAST_HASH") == "1"
            else ["django.contrib.auth.hashers.PBKDF2PasswordHasher", "django.contrib.auth.hashers.MD5PasswordHasher"]
        ),
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
        },
        SIMPLE_JWT={
            "ROTATE_REFRESH_TOKENS": True,
            "BLACKLIST_AFTER_ROTATION": True,
            "ALGORITHM": ALG,
            "SIGNING_KEY": signing,
            "VERIFYING_KEY": verifying,
        },
        LOGGING_CONFIG=None,
    )
    import django

    django.setup()

from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.decorators import api_view, permission_classes  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework_simplejwt.views import (  # noqa: E402
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request):
    return Response({"id": request.user.id, "username": request.user.username})


def healthz(_request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/token/verify/", TokenVerifyView.as_view()),
    path("api/token/blacklist/", TokenBlacklistView.as_view()),
    path("api/me/", me),
    path("healthz", healthz),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()


def setup(count):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    User = get_user_model()
    from django.contrib.auth.hashers import make_password

    for i in range(count):
        User.objects.create_user(username=f"user{i}", password=f"pw-{i}")
    # A user whose login is cheap (MD5), only to mint pools of refresh tokens quickly.
    User.objects.create(username="pool", password=make_password("pool-pw", hasher="md5"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "setup":
        setup(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
