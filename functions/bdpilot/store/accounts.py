"""Staff accounts, invitations, sessions and sign-in throttles: the staff table (HASH `pk`, TTL `expires_at`).

  ACCOUNT#<email>              email, name, role, unit, password_hash, totp_secret, totp_last_step, recovery
                               (a string set of the SHA-256 hex of unused codes), disabled, created_at, invited_by
  INVITE#<sha256(token)>       email, name, role, unit, invited_by, expires_at
  SESSION#<sha256(id)>         email, role, unit, created_at, last_seen, csrf, expires_at
  THROTTLE#<kind>#<who>        failures, since, locked_until, expires_at   (kind: "account" | "address")

Every one-time thing is made one-time by a condition DynamoDB checks atomically, never by a read before a
write: an invitation is consumed by a conditional DeleteItem, a TOTP step is used by raising totp_last_step, a
recovery code by deleting it from the set while it is still there. The hashing of tokens, ids and codes is the
caller's (console.auth): this module stores what it is given. Times are epoch seconds (N), except created_at.
Failures of AWS arrive as store.errors exceptions; a lost condition is an answer (False / None), not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bdpilot.store.errors import CONDITION_FAILED, mapped, or_none

_to_dynamo = TypeSerializer().serialize
_from_dynamo = TypeDeserializer().deserialize


def account_key(email: str) -> str:
    return f"ACCOUNT#{email.strip().lower()}"


def throttle_key(kind: str, who: str) -> str:
    if kind not in ("account", "address"):
        raise ValueError(kind)
    return f"THROTTLE#{kind}#{who.strip().lower()}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _item(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: _to_dynamo(v) for k, v in attributes.items() if v is not None}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _to_dynamo(v) for k, v in values.items()}


class Accounts:
    def __init__(self, client: Any, table: str) -> None:
        self.dynamodb = client
        self.table = table

    # --- plumbing -----------------------------------------------------------------------------------------

    def _get(self, pk: str) -> dict[str, Any] | None:
        with mapped():
            got = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        return {k: _plain(_from_dynamo(v)) for k, v in got["Item"].items()} if "Item" in got else None

    def _conditional(self, call: str, **kwargs: Any) -> dict[str, Any] | None:
        """A conditional write: its response, or None when its condition did not hold."""
        return or_none(lambda: dict(getattr(self.dynamodb, call)(TableName=self.table, **kwargs)), CONDITION_FAILED)

    def _put_new(self, pk: str, attributes: dict[str, Any]) -> bool:
        return self._conditional("put_item", Item=_item({"pk": pk, **attributes}),
                                 ConditionExpression="attribute_not_exists(pk)") is not None

    def _update(self, pk: str, expression: str, values: dict[str, Any], condition: str = "attribute_exists(pk)",
                names: dict[str, str] | None = None) -> dict[str, Any] | None:
        """UpdateItem on an existing item (unless `condition` says otherwise): the attributes after it, or None
        when the condition did not hold."""
        kwargs: dict[str, Any] = {"Key": {"pk": {"S": pk}}, "UpdateExpression": expression,
                                  "ConditionExpression": condition, "ReturnValues": "ALL_NEW"}
        if values:
            kwargs["ExpressionAttributeValues"] = _values(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        got = self._conditional("update_item", **kwargs)
        if got is None:
            return None
        return {k: _plain(_from_dynamo(v)) for k, v in got.get("Attributes", {}).items()}

    def _scan(self, prefix: str, projection: str | None = None,
              names: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "FilterExpression": "begins_with(pk, :p)",
                                  "ExpressionAttributeValues": {":p": {"S": prefix}}}
        if projection:
            kwargs["ProjectionExpression"] = projection
        if names:
            kwargs["ExpressionAttributeNames"] = names
        while True:
            with mapped():
                page = self.dynamodb.scan(**kwargs)
            for item in page.get("Items", []):
                yield {k: _plain(_from_dynamo(v)) for k, v in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- accounts -----------------------------------------------------------------------------------------

    def create_account(self, email: str, *, name: str, role: str, unit: str | None, invited_by: str,
                       created_at: str, password_hash: str | None = None, totp_secret: str | None = None,
                       recovery: set[str] | None = None, totp_last_step: int = 0) -> bool:
        """A new account; False when one with this email exists (it is never overwritten)."""
        return self._put_new(account_key(email), {
            "email": email.strip().lower(), "name": name, "role": role, "unit": unit, "invited_by": invited_by,
            "created_at": created_at, "password_hash": password_hash, "totp_secret": totp_secret,
            "recovery": recovery or None, "totp_last_step": totp_last_step, "disabled": False})

    def get_account(self, email: str) -> dict[str, Any] | None:
        return self._get(account_key(email))

    def set_password(self, email: str, password_hash: str) -> bool:
        return self._update(account_key(email), "SET password_hash = :h", {":h": password_hash}) is not None

    def set_totp(self, email: str, secret: str, recovery: set[str], last_step: int) -> bool:
        """A new TOTP secret with its recovery codes; `last_step` is the step of the code that confirmed it, so
        that code cannot sign in."""
        return self._update(account_key(email), "SET totp_secret = :s, recovery = :r, totp_last_step = :n",
                            {":s": secret, ":r": recovery, ":n": last_step}) is not None

    def use_totp_step(self, email: str, step: int) -> bool:
        """Record a verified code's time step; False when this step (or a later one) was used already, so a code
        seen once, or a second request racing the first, is refused."""
        return self._update(account_key(email), "SET totp_last_step = :n", {":n": step},
                            "attribute_exists(pk) AND (attribute_not_exists(totp_last_step) OR totp_last_step < :n)"
                            ) is not None

    def use_recovery_code(self, email: str, code_hash: str) -> bool:
        """Remove one recovery code from the account's set; False when it is not (or no longer) there."""
        return self._update(account_key(email), "DELETE recovery :c", {":c": {code_hash}, ":h": code_hash},
                            "attribute_exists(pk) AND contains(recovery, :h)") is not None

    def set_disabled(self, email: str, disabled: bool) -> bool:
        return self._update(account_key(email), "SET disabled = :d", {":d": disabled}) is not None

    def list_accounts(self) -> list[dict[str, Any]]:
        """Every account without its secrets (for MIIT's accounts page), by email, each with `set_up`: its
        authenticator was confirmed (totp_last_step above 0; the step itself is not returned). A Scan of the staff
        table: it holds tens of accounts and the sessions and throttles that TTL keeps few."""
        fields = ["email", "name", "role", "unit", "disabled", "created_at", "invited_by", "totp_last_step"]
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        found = [{**{k: v for k, v in a.items() if k != "totp_last_step"},
                  "set_up": int(a.get("totp_last_step") or 0) > 0}
                 for a in self._scan("ACCOUNT#", ", ".join(names), names)]
        return sorted(found, key=lambda a: a.get("email", ""))

    def remove_unconfirmed(self, email: str) -> bool:
        """Delete an account whose authenticator was never confirmed, so that a new invitation can open it
        afresh; False when there is no such account or it was set up (the condition is checked atomically, so
        a set-up finishing meanwhile wins and is kept)."""
        return self._conditional("delete_item", Key={"pk": {"S": account_key(email)}},
                                 ConditionExpression="attribute_exists(pk) AND "
                                                     "(attribute_not_exists(totp_last_step) OR totp_last_step <= :z)",
                                 ExpressionAttributeValues={":z": {"N": "0"}}) is not None

    # --- invitations --------------------------------------------------------------------------------------

    def create_invitation(self, token_hash: str, *, email: str, name: str, role: str, unit: str | None,
                          invited_by: str, expires_at: int) -> bool:
        return self._put_new(f"INVITE#{token_hash}", {"email": email.strip().lower(), "name": name, "role": role,
                                                      "unit": unit, "invited_by": invited_by,
                                                      "expires_at": expires_at})

    def get_invitation(self, token_hash: str) -> dict[str, Any] | None:
        """The invitation, to show whom it is for (expiry is the caller's check; taking it is `consume`)."""
        return self._get(f"INVITE#{token_hash}")

    def consume_invitation(self, token_hash: str, now: int) -> dict[str, Any] | None:
        """Take an invitation once: deleted if it is there and has not expired (TTL deletes lazily, so expiry is
        part of the condition), and returned; None for an unknown, used or expired one. Two clicks racing
        cannot both get it."""
        got = self._conditional("delete_item", Key={"pk": {"S": f"INVITE#{token_hash}"}},
                                ConditionExpression="attribute_exists(pk) AND expires_at > :now",
                                ExpressionAttributeValues={":now": {"N": str(now)}}, ReturnValues="ALL_OLD")
        if not got or "Attributes" not in got:
            return None
        return {k: _plain(_from_dynamo(v)) for k, v in got["Attributes"].items()}

    # --- sessions -----------------------------------------------------------------------------------------

    def create_session(self, id_hash: str, *, email: str, role: str, unit: str | None, created_at: int,
                       csrf: str, expires_at: int) -> bool:
        return self._put_new(f"SESSION#{id_hash}", {"email": email.strip().lower(), "role": role, "unit": unit,
                                                    "created_at": created_at, "last_seen": created_at,
                                                    "csrf": csrf, "expires_at": expires_at})

    def get_session(self, id_hash: str) -> dict[str, Any] | None:
        """The stored session (expiry is the caller's check: TTL deletes only eventually)."""
        return self._get(f"SESSION#{id_hash}")

    def touch_session(self, id_hash: str, last_seen: int) -> bool:
        """Move last_seen on; False when the session is gone (revoked meanwhile)."""
        return self._update(f"SESSION#{id_hash}", "SET last_seen = :t", {":t": last_seen}) is not None

    def revoke_session(self, id_hash: str) -> None:
        with mapped():
            self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": f"SESSION#{id_hash}"}})

    def revoke_sessions(self, email: str) -> int:
        """Delete every session of an account (disabled, or its password changed); how many there were. A
        consistent Scan with a filter: rare, and the table is small."""
        who = email.strip().lower()
        gone = 0
        for session in self._scan("SESSION#", "pk, email"):
            if session.get("email") == who:
                self.revoke_session(session["pk"].removeprefix("SESSION#"))
                gone += 1
        return gone

    # --- throttles ----------------------------------------------------------------------------------------

    def record_failure(self, kind: str, who: str, now: int, window: int) -> int:
        """Count one failed sign-in for an account or an address within a window of `window` seconds that began
        at its first failure; the count after it. The count is an atomic ADD; a window that has passed starts
        again at 1 (its item may outlive it until TTL removes it)."""
        pk = throttle_key(kind, who)
        for _ in range(3):
            counted = self._update(pk, "ADD failures :one", {":one": 1, ":start": now - window},
                                   "attribute_exists(pk) AND since > :start")
            if counted is not None:
                return int(counted["failures"])
            # No item, or an old window: start one, unless another request just did (then count in it).
            if self._conditional("put_item", Item=_item({"pk": pk, "failures": 1, "since": now, "locked_until": 0,
                                                         "expires_at": now + window}),
                                 ConditionExpression="attribute_not_exists(pk) OR since <= :start",
                                 ExpressionAttributeValues={":start": {"N": str(now - window)}}) is not None:
                return 1
        return 1

    def lock(self, kind: str, who: str, until: int) -> None:
        """Refuse sign-ins until `until`; the item lives as long (TTL)."""
        self._update(throttle_key(kind, who), "SET locked_until = :u, expires_at = :u", {":u": until},
                     "attribute_exists(pk)")

    def get_throttle(self, kind: str, who: str) -> dict[str, Any] | None:
        return self._get(throttle_key(kind, who))

    def clear_throttle(self, kind: str, who: str) -> None:
        with mapped():
            self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": throttle_key(kind, who)}})

