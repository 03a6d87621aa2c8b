"""The worker's own credential: how it proves to the master which worker it is.

In order: $HISCRM_WORKER_CREDENTIAL (made by an admin with
`hiscrm token create --worker ID`), the data directory's `credential` file
(kept from enrollment), else the enrollment token (the local fleet's,
written by the master on its first start), which the master exchanges once
for this worker id's own credential; that one is saved, owner-only, and used
from then on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from hiscrm_common import settings

log = logging.getLogger(__name__)

ENROLLMENT_WAIT_S = 120.0


class WorkerCredential:
    def __init__(self, data_dir: Path, worker_id: str) -> None:
        self.path = data_dir / "credential"
        self.worker_id = worker_id

    async def token(self) -> str:
        secret = settings.get().worker_credential  # HISCRM_WORKER_CREDENTIAL
        env = secret.get_secret_value().strip() if secret is not None else ""
        if env:
            return settings.check_token(env, "$HISCRM_WORKER_CREDENTIAL")
        if self.path.exists():
            return settings.check_token(settings.read_secret_file(self.path), str(self.path))
        return await self._enrollment_token()

    async def _enrollment_token(self) -> str:
        """The master writes the enrollment token on its first start, which
        may be a moment after this worker started (supervisord starts both)."""
        path = settings.enrollment_file()
        waited = 0.0
        while settings.get().enroll_token is None and not path.exists():
            if waited == 0.0:
                log.info("worker %s: waiting for the enrollment token in %s", self.worker_id, path)
            if waited >= ENROLLMENT_WAIT_S:
                raise SystemExit(
                    f"worker {self.worker_id}: no credential in {self.path} and no enrollment "
                    f"token ($HISCRM_ENROLL_TOKEN or {path}); set HISCRM_WORKER_CREDENTIAL to one "
                    f"from `hiscrm token create --worker {self.worker_id}`"
                )
            await asyncio.sleep(0.5)
            waited += 0.5
        return settings.load_enrollment_token()

    def save(self, credential: str) -> None:
        """Kept owner-only; replaces an older one atomically."""
        tmp = self.path.with_name("credential.tmp")
        tmp.unlink(missing_ok=True)
        settings.write_secret_file(tmp, credential)
        os.replace(tmp, self.path)
        log.info("worker %s: enrolled; credential kept in %s", self.worker_id, self.path)
