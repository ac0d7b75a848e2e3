"""`manage.py ensure_admin`: create the first administrator once and print how to log in."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Create user 'admin' if no superuser exists; the password comes from ARCHIVE_ADMIN_PASSWORD "
            "or is generated and kept in var/first-admin.txt (readable by you only).")

    def handle(self, *args, **options):
        User = get_user_model()
        secret_file = settings.VAR_DIR / "first-admin.txt"
        if not User.objects.filter(is_superuser=True).exists():
            password = os.environ.get("ARCHIVE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(f"admin {password}\n")
            secret_file.chmod(0o600)
        if secret_file.exists():
            user, password = secret_file.read_text().split()
            self.stdout.write(f"First admin login: user {user!r}, password {password!r} (from {secret_file})")
        else:
            self.stdout.write("An administrator exists already; use your own login.")
