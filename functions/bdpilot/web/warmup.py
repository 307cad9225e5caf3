"""SnapStart's runtime hooks for the public function (infra/adr/0021-snapstart.md), registered by bdpilot.web.api.

`prepare` runs once before Lambda takes the snapshot, after the handler module was imported (settings checked,
the form-token secret read). It builds what a cold first request would otherwise build on an applicant's time:
the modules the submission path imports lazily, every request and answer model (contract.Model builds on first
use) with the 申报书's, the body bounds, the whole wording catalogue, the 申报书's JSON Schema and the OpenAPI
document, one print copy, and the store's (and SES's) boto3 clients. Every environment restored from the
snapshot starts with all of it done.

What it must not do: call AWS or write anything (creating a client opens no connection), invoke the handler
(Powertools would then count no cold start in restored environments), or make anything unique. Form tokens,
upload ids, references and mail ids are drawn per request from `secrets`/`uuid4`, which read the kernel's
entropy after the restore, so restored environments never share them. Called again, it finds everything built.

`reseed` runs after each restore: `random`'s state is in the snapshot, and libraries draw from it (botocore's
retry jitter), so environments restored from one snapshot would otherwise back off in step.
"""

from __future__ import annotations

import random

from pydantic import BaseModel

from bdpilot import settings
from bdpilot.domain import wording


def models() -> list[type[BaseModel]]:
    """Every model the public function validates or answers with: the 申报书 and each contract model."""
    from bdpilot.domain.application import Application
    from bdpilot.web import contract

    # SubmissionRequest first: its `application` resolves only through submission_request().
    found: list[type[BaseModel]] = [Application, contract.submission_request()]
    pending: list[type[BaseModel]] = list(contract.Model.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def prepare() -> None:
    """Build, before the snapshot, what the first requests would build (see the module's note)."""
    # Imported by the first submission (api._take), its receipt e-mail, and the form posted without JavaScript.
    import email.policy  # noqa: F401  (an e-mail for the relay or the outbox)

    from bdpilot.domain import bounds
    from bdpilot.domain.application import Application, form_schema
    from bdpilot.intake import submission  # noqa: F401
    from bdpilot.store import mailer
    from bdpilot.web import api, contract, formdata, limits, mailqueue, pages, printcopy  # noqa: F401

    for model in models():
        if not model.__pydantic_complete__:
            model.model_rebuild()
    for route in contract.ROUTES:
        limits.body_for(route.path)
    formdata.prepare()  # the no-JavaScript form's field types and depth
    bounds.shape_of(Application)  # the intake's own check of the 申报书 (cached apart from the request's)
    wording.catalogue()
    api._schema_text()
    contract.document()
    printcopy.render_record(form_schema(), {})
    cfg = settings.load()
    store = api.store_for(cfg)
    _ = store.s3, store.dynamodb  # cached on the store: created now, connected on first use
    if cfg.mail == "ses":
        mailer._aws("sesv2")  # the client the receipt e-mail is sent with (cached by the mailer)


def reseed() -> None:
    """After a restore: a seed of this environment's own for `random` (from os.urandom)."""
    random.seed()
