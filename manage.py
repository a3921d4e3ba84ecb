#!/usr/bin/env python
"""Django's command-line utility for Spinweb."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spinweb.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A wrong setting is the operator's to fix: say what is wrong, without a traceback.
        sys.exit(f"Spinweb cannot start: {exc}")


if __name__ == "__main__":
    main()
