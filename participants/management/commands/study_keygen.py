"""Run on a researcher's own machine: makes the study key pair. Only the public key goes to the server."""

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from participants.crypto import sealing


class Command(BaseCommand):
    help = (
        "Generate a study key pair on THIS machine: the private key is written encrypted under a passphrase "
        "(PKCS#8), the public key is printed and written for registering with POST /api/v1/studies/<id>/keys/."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--private-key", type=Path, required=True, help="Where to write the encrypted private key."
        )
        parser.add_argument(
            "--public-key", type=Path, required=True, help="Where to write the public key (PEM)."
        )
        parser.add_argument("--suite", default=sealing.DEFAULT_SUITE, choices=sealing.supported_suites())
        parser.add_argument(
            "--passphrase-file", type=Path, help="Read the passphrase from a file instead of asking."
        )

    def handle(
        self,
        *args: Any,
        private_key: Path,
        public_key: Path,
        suite: str,
        passphrase_file: Path | None,
        **options: Any,
    ) -> None:
        if private_key.exists():
            raise CommandError(f"{private_key} exists; refusing to overwrite a private key.")
        if passphrase_file is not None:
            passphrase = passphrase_file.read_text().strip()
        else:
            passphrase = getpass.getpass("Passphrase for the private key: ")
            if getpass.getpass("Again: ") != passphrase:
                raise CommandError("The passphrases differ.")
        secret, public = sealing.generate_keypair(suite=suite)
        try:
            encrypted = sealing.private_key_to_encrypted_pem(secret, passphrase=passphrase.encode())
        except sealing.SealingError as error:
            raise CommandError(str(error)) from None
        private_key.touch(mode=0o600)
        private_key.write_bytes(encrypted)
        public_key.write_text(sealing.public_key_to_pem(public))
        self.stdout.write(
            f"Private key (encrypted): {private_key}\nPublic key: {public_key}\nFingerprint: {sealing.fingerprint(public)}"
        )
