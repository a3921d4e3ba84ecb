"""Credential references: where an account's secret lives, never the secret itself.

An account names an environment variable, a file or a kubeconfig context. Spinweb checks
that the reference points somewhere when the account is saved and refuses a value that
looks like a pasted secret, so no secret is ever stored, logged or returned.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class CredentialsKind(models.TextChoices):
    NONE = "none", "None (default credentials chain or not needed)"
    ENV = "env", "Environment variable"
    FILE = "file", "File path"
    KUBECONFIG_CONTEXT = "kubeconfig_context", "Kubeconfig context"


ALLOWED_KINDS: dict[str, set[str]] = {
    "local": {CredentialsKind.NONE},
    "kubernetes": {CredentialsKind.KUBECONFIG_CONTEXT, CredentialsKind.FILE},
    "aws": {CredentialsKind.NONE, CredentialsKind.ENV, CredentialsKind.FILE},
}

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"), "a PEM key or certificate"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"^[A-Za-z0-9/+]{40}$"), "an AWS secret access key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\."), "a JSON web token"),
    (re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key)\s*[:=]"), "a key=value secret"),
    (re.compile(r"(?i)^(client-key-data|client-certificate-data|token):"), "kubeconfig secret data"),
]


def _entropy_per_char(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def secret_kind(value: str) -> str | None:
    """Describe what kind of secret ``value`` looks like, or None when it looks like a reference."""
    for pattern, description in SECRET_PATTERNS:
        if pattern.search(value):
            return description
    compact = value.strip()
    if "\n" in compact:
        return "multi-line text"
    # A long run of random-looking characters that is not a path: a key, not a name.
    looks_like_path = compact.startswith(("/", "~", "./"))
    if len(compact) >= 24 and not looks_like_path and _entropy_per_char(compact) > 4.0:
        has_classes = sum(bool(re.search(p, compact)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
        if has_classes == 3:
            return "a random-looking key"
    return None


def check_reference(provider: str, kind: str, ref: str) -> dict[str, str]:
    """Errors by field name for an account's credentials reference; empty when it is usable."""
    errors: dict[str, str] = {}
    found = secret_kind(ref) if ref else None
    if found:
        return {
            "credentials_ref": (
                f"This looks like a secret value ({found}), not a reference to one. "
                "Put the secret in an environment variable, a file or a kubeconfig and enter its name here."
            )
        }
    allowed = ALLOWED_KINDS.get(provider, set())
    if kind not in allowed:
        names = ", ".join(sorted(allowed))
        return {"credentials_kind": f"A {provider} account takes credentials of kind {names}, not {kind!r}."}
    if kind == CredentialsKind.NONE:
        if ref:
            errors["credentials_ref"] = "Leave the reference empty when the credentials kind is none."
        return errors
    if not ref:
        return {"credentials_ref": f"A reference is required for credentials of kind {kind}."}
    checker = {"env": _check_env, "file": _check_file, "kubeconfig_context": _check_context}[kind]
    message = checker(ref)
    if message:
        errors["credentials_ref"] = message
    return errors


def _check_env(ref: str) -> str | None:
    if not ENV_NAME_RE.match(ref):
        # Not echoed: a value that is not a name may be a secret the checks above missed.
        return "This is not an environment variable name (letters, digits and underscores)."
    if ref not in os.environ:
        return f"The environment variable {ref} is not set in Spinweb's environment."
    return None


def _check_file(ref: str) -> str | None:
    path = Path(ref).expanduser()
    if not path.is_absolute():
        return "Give an absolute path (starting with / or ~)."
    if not path.is_file():
        return f"No file at {ref}."
    if not os.access(path, os.R_OK):
        return f"Spinweb cannot read {ref}."
    return None


def kubeconfig_contexts(path: Path) -> set[str]:
    """Context names in a kubeconfig, whatever its current-context says (as kubectl --context)."""
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("contexts") or [], list):
        raise ValueError("it is not a kubeconfig (no list of contexts)")
    return {entry["name"] for entry in document.get("contexts") or [] if isinstance(entry, dict) and "name" in entry}


def _check_context(ref: str) -> str | None:
    kubeconfig = Path(settings.SPINWEB_KUBECONFIG).expanduser()
    try:
        names = kubeconfig_contexts(kubeconfig)
    except OSError as exc:
        return f"The kubeconfig {kubeconfig} cannot be read ({exc.strerror or exc})."
    except (yaml.YAMLError, ValueError) as exc:
        reason = "it is not valid YAML" if isinstance(exc, yaml.YAMLError) else str(exc)
        return f"The kubeconfig {kubeconfig} cannot be read: {reason}."
    if ref not in names:
        return f"The kubeconfig {kubeconfig} has no context named {ref!r}."
    return None


def raise_for_reference(provider: str, kind: str, ref: str) -> None:
    errors = check_reference(provider, kind, ref)
    if errors:
        raise ValidationError(errors)
