"""A Django site for the import tests: its database migrated by Django itself, its users, groups
and passwords made by Django's own ORM and password hashers.

usage: django_site.py DATABASE_URL setup|change
  DATABASE_URL: sqlite:////absolute/path.db or postgres://USER@HOST:PORT/NAME
"""
import sys
from urllib.parse import urlparse

import django
from django.conf import settings


def database(url):
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parsed.path[1:]}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
    }


settings.configure(
    DATABASES={"default": database(sys.argv[1])},
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402


def with_hasher(username, password, hasher):
    user = User(username=username)
    user.password = make_password(password, hasher=hasher)
    user.save()


def setup():
    call_command("migrate", verbosity=0)
    editors = Group.objects.create(name="editors")
    Group.objects.create(name="authors")
    User.objects.create_user("root", password="root-pass")  # id 1
    User.objects.create_superuser(  # id 2
        "ann", "ann@example.com", "ann-pass", first_name="Ann", last_name="Lee"
    )
    sam = User.objects.create_user("sam", "sam@example.com", "sam-pass", is_staff=True)  # 3
    sam.groups.add(editors)
    User.objects.create_user("una")  # 4: no password given, so an unusable one
    with_hasher("olga", "olga-pass", "md5")  # 5
    User.objects.create_user("ivan", password="ivan-pass", is_active=False)  # 6
    with_hasher("ava", "ava-pass", "argon2")  # 7
    with_hasher("bea", "bea-pass", "bcrypt_sha256")  # 8
    with_hasher("cid", "cid-pass", "pbkdf2_sha1")  # 9
    with_hasher("dot", "dot-pass", "bcrypt")  # 10
    with_hasher("eve", "eve-pass", "scrypt")  # 11


def change():
    bea = User.objects.get(username="bea")
    bea.username = "beatrice"
    bea.save()
    sam = User.objects.get(username="sam")
    sam.set_password("sam-new-pass")
    sam.save()
    sam.groups.set([Group.objects.get(name="authors")])
    User.objects.get(username="ava").delete()


{"setup": setup, "change": change}[sys.argv[2]]()
