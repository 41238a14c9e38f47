"""The one table of refusals: every way the override rules say no, with the same words in
Python and in PL/pgSQL (``seasongate._store`` builds the PostgreSQL functions' ``RAISE``
statements from it), and the two roles the rules name."""

from __future__ import annotations

from dataclasses import dataclass

from seasongate._errors import InputError, OverrideError, SeasongateError, StoreError

RELEASE_MANAGER = "release_manager"
"""The role whose holders may always revoke an override (PostgreSQL: ``seasongate_release_manager``)."""
MIGRATOR_ROLE = "seasongate_migrator"
"""The PostgreSQL role whose members may consume (use up) a single-use override."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """One way the override rules say no: the same words in Python and in PL/pgSQL.

    ``template`` is a :meth:`str.format` template with named fields; the PostgreSQL functions
    raise the very same text (``seasongate._store._pg_sql`` builds their ``RAISE`` statements
    from this table) under ``sqlstate``, and the store maps that code back to ``error``.
    """

    sqlstate: str
    template: str
    error: type[SeasongateError]

    def format(self, **fields: object) -> str:
        """The message with its fields filled in."""
        return self.template.format(**fields)

    def __call__(self, **fields: object) -> SeasongateError:
        """The exception to raise."""
        return self.error(self.format(**fields))


# The one table of refusals (both stores, both languages). SQLSTATE class "SG" is ours.
REFUSALS: dict[str, Refusal] = {
    "unknown": Refusal("SG001", "unknown override id '{id}'", InputError),
    "self_approve": Refusal("SG002", "{actor} requested override {id} and cannot approve it", OverrideError),
    "no_role": Refusal(
        "SG003", "{actor} holds none of the roles override {id} needs approvals from ({roles})", OverrideError
    ),
    "closed": Refusal("SG004", "override {id} is {status} and can no longer be {verb}", OverrideError),
    "self_reject": Refusal(
        "SG005", "{actor} requested override {id} and cannot reject it (revoke it to withdraw)", OverrideError
    ),
    "reject_approved": Refusal(
        "SG006", "override {id} is already approved ({status}); revoke it instead", OverrideError
    ),
    "unusable": Refusal("SG007", "override {id} is {status} and cannot be used", OverrideError),
    "revoke_denied": Refusal(
        "SG008",
        "{actor} may not revoke override {id}: only its requester, a holder of {roles} or a release manager may",
        OverrideError,
    ),
    "before_request": Refusal(
        "SG009", "override {id} was requested at {requested}; it cannot be {verb} at {at}, before that", OverrideError
    ),
    "not_migrator": Refusal(
        "SG010",
        "{actor} may not use override {id}: only members of " + MIGRATOR_ROLE + " run migrations",
        OverrideError,
    ),
    "not_allowed_run": Refusal(
        "SG011", "override {id} can only be used by a run the gate allowed with it", OverrideError
    ),
    "reserved_action": Refusal("SG012", "audit action '{action}' is written by the override commands only", InputError),
    "ends_before_now": Refusal("SG013", "the override would end at {until}, which is not after {at}", InputError),
    "empty_reason": Refusal("SG014", "the reason must not be empty", InputError),
    "trail_changed": Refusal(
        "SG015",
        "the audit trail does not end where seasongate left it (changed outside seasongate); "
        "nothing was written. Run seasongate audit verify.",
        StoreError,
    ),
}
