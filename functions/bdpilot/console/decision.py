"""POST /staff/submissions/{ref}/decision: a unit account records 退回修改, 不予推荐 or 拟推荐 for one of its own
applicants.

Everything the form promised is checked again here, on the server: the reference is the unit's own (the key, as
every console read), the list is open (the store's transaction), the unit deadline has not passed, the text is
there and fits, the rank is within the quota, and the page was not stale (the item's rev). A refusal re-renders
the submission's page with the Chinese message and the typed text kept, and changes nothing; every attempt is
audited, refused ones with the refusal's code as their outcome. 退回修改 then e-mails the applicant's contact the
signed link to revise (console/returnmail.py).
"""

from __future__ import annotations

from bdpilot.console import detail, returnmail, views
from bdpilot.console.access import visible
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.review import deadline
from bdpilot.domain import campaign, clock, review
from bdpilot.domain.review import Decision, ReviewRefused

FIELDS = ("status", "reason", "opinion", "rank")
ACTIONS = {"returned": "decide_returned", "rejected": "decide_rejected", "proposed": "decide_proposed"}  # audit
CONFLICTS = {"stale", "quota_full", "list_submitted", "past_deadline", "same_status"}  # 409; the rest are 400


def _rev(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise ReviewRefused("stale")  # a form without its rev cannot prove it saw the current state
    return int(text)


@route("POST", "/staff/submissions/{ref}/decision", roles=("unit",))
def decide(ctx: Context) -> Answer:
    ref = ctx.request.params.get("ref", "")
    index = visible(ctx, ref)
    staff = ctx.staff
    if index is None or staff is None or not staff.unit:
        return views.not_found(ctx)
    unit = staff.unit
    form = ctx.request.form
    typed = {name: form.get(name, "") for name in FIELDS}
    status = typed["status"]
    action = ACTIONS.get(status, "decide")
    try:
        expected = _rev(form.get("rev", ""))
        decision = ctx.services.reviews.decide(
            unit, ref, expected, Decision(status=status, reason=typed["reason"], opinion=typed["opinion"],
                                          rank=review.parse_rank(typed["rank"])),
            staff.email, ctx.now or clock.now(), campaign.quota_for(unit), deadline=deadline())
    except ReviewRefused as refused:
        ctx.audit(action, ref, outcome=refused.code)
        return detail.show(ctx, ref, index, error=refused.message, typed=typed,
                           status=409 if refused.code in CONFLICTS else 400)
    ctx.audit(action, ref)
    done = "saved"
    if status == "returned":
        done = returnmail.send(ctx, ref, unit, str(decision.get("reason") or ""))
    return views.redirect(f"/staff/submissions/{ref}?done={done}#review")
