"""Secret redaction: what must be masked, and what must be left alone."""

from __future__ import annotations

import pytest

from companion.core.redact import MASK, redact

SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "A1b2" * 9,
    "sk-proj-" + "abcDEF123456" * 3,
    "xoxb-1234567890-abcdefghij",
    "AIza" + "B" * 35,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_known_credential_shapes_are_masked(secret):
    out = redact(f"before {secret} after")
    assert secret not in out and MASK in out and out.startswith("before") and out.endswith("after")


@pytest.mark.parametrize("line", [
    'password = "correct horse"', "DB_PASSWORD=hunter2hunter2", "api_key: 0123456789abcdef",
    "self.auth_token = 'zzzzzzzz'", "export GITHUB_TOKEN=abc123def456",
])
def test_secret_assignments_keep_the_name_and_mask_the_value(line):
    out = redact(line)
    assert MASK in out
    name = line.split("=")[0].split(":")[0].strip()
    assert name in out


def test_url_credentials_are_masked():
    assert redact("postgres://admin:s3cret@db:5432/app") == f"postgres://{MASK}@db:5432/app"


def test_env_files_mask_every_value():
    diff = "+DEBUG=1\n-SECRET_SAUCE=tomato\n context=unchanged\n"
    out = redact(diff, path="deploy/.env.production")
    assert "tomato" not in out and "=1" not in out and out.count(MASK) == 3


@pytest.mark.parametrize("text", [
    "for i in range(len(tokens) - 1):", "def parse_header(line: str) -> dict:",
    "token = next(tokens)", "the tests pass", "passwords are hashed with bcrypt",
])
def test_ordinary_code_and_prose_is_left_alone(text):
    assert redact(text) == text
