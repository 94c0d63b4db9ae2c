"""Prints, as JSON, hashes of the password given as the first argument made by Django's own
password hashers (Django, argon2-cffi and bcrypt from PyPI), one per format, with a low cost where
the format allows one, plus an unusable password and an unsupported format."""
import json
import sys

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
)
django.setup()

from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    BCryptPasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    ScryptPasswordHasher,
    make_password,
)

password = sys.argv[1]


class CheapArgon2i(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 1
    memory_cost = 64
    parallelism = 1

    def params(self):
        import argon2

        return argon2.Parameters(
            type=argon2.low_level.Type.I,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=argon2.DEFAULT_RANDOM_SALT_LENGTH,
            hash_len=argon2.DEFAULT_HASH_LENGTH,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
        )


class CheapArgon2id(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 2


class CheapBCrypt(BCryptPasswordHasher):
    rounds = 4


class CheapBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


class CheapScrypt(ScryptPasswordHasher):
    work_factor = 2**10


def encode(hasher):
    return hasher.encode(password, hasher.salt())


print(
    json.dumps(
        {
            "pbkdf2_sha256": PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt()),
            "pbkdf2_sha256_low": PBKDF2PasswordHasher().encode(password, "somesalt", 1),
            "pbkdf2_sha1": PBKDF2SHA1PasswordHasher().encode(password, "somesalt", 1000),
            "argon2id": encode(CheapArgon2id()),
            "argon2i": encode(CheapArgon2i()),
            "bcrypt_sha256": encode(CheapBCryptSHA256()),
            "bcrypt": encode(CheapBCrypt()),
            "scrypt": encode(CheapScrypt()),
            "unusable": make_password(None),
            "md5": make_password(password, hasher="md5"),
        }
    )
)
