"""The PostgreSQL schema ``seasongate``: tables, grants and the audit chain's functions.

Who may do what is decided by the database, not only by the Python client:

* the tables are readable by everyone (``SELECT`` to ``PUBLIC``) and writable by their
  owner only: no one else can insert an approval or change an override or an audit entry;
* every change goes through a SECURITY DEFINER function with a fixed ``search_path`` that
  takes the acting user from ``session_user``: ``audit_append`` here, the override functions
  in ``_pg_overrides.py`` (with the same rules and words as ``seasongate._overrides``);
* the audit chain is extended in SQL (``_audit_append``, callable by the functions only) under
  ``LOCK TABLE audit IN EXCLUSIVE MODE``, so concurrent writers queue and the chain never forks.

Schema 2 closes what schema 1 left to the client: the actor of every entry is
``session_user`` and its time the server's clock (``seasongate._now()``: ``clock_timestamp()``,
or the row of ``seasongate.clock`` that only the schema owner can write, which tests use and
production leaves empty), never a parameter; audit times never go backwards (an entry is
stamped no earlier than the one before it); each approval records the roles it was made
under; only members of ``seasongate_migrator`` consume an override, together with the gate's
allowing decision; release managers can always revoke. The refusals are raised from
``seasongate._overrides.REFUSALS`` (expanded here), so both languages say the same words.

Each entry of :data:`SCHEMA` upgrades the schema from the version before it.
"""

from __future__ import annotations

import re

from seasongate._overrides import MIGRATOR_ROLE, REFUSALS, RELEASE_MANAGER
from seasongate._store._pg_overrides import OVERRIDES_V2

LOCK_KEY = 0x5EA5_06A7_E000_0001
"""``pg_advisory_xact_lock`` key held while the schema is created or upgraded (signed int8)."""

_V1 = r"""
CREATE SCHEMA IF NOT EXISTS seasongate;
REVOKE ALL ON SCHEMA seasongate FROM PUBLIC;
GRANT USAGE ON SCHEMA seasongate TO PUBLIC;

CREATE TABLE IF NOT EXISTS seasongate.meta (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE seasongate.overrides (
    id text PRIMARY KEY,
    environment text NOT NULL,
    territory text NOT NULL,
    versions text NOT NULL,
    rules text[] NOT NULL CHECK (cardinality(rules) >= 1),
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    requester text NOT NULL,
    reason text NOT NULL CHECK (btrim(reason) <> ''),
    ticket text NOT NULL CHECK (btrim(ticket) <> ''),
    single_use boolean NOT NULL,
    approvals_required integer NOT NULL CHECK (approvals_required >= 1),
    roles text[] NOT NULL CHECK (cardinality(roles) >= 1),
    max_validity integer NOT NULL CHECK (max_validity > 0),
    created_at timestamptz NOT NULL,
    rejected_at timestamptz, rejected_by text, reject_reason text,
    revoked_at timestamptz, revoked_by text, revoke_reason text,
    consumed_at timestamptz, consumed_by text, consumed_subject text,
    CHECK (valid_until > valid_from),
    CHECK (valid_until - valid_from <= make_interval(secs => max_validity))
);
CREATE INDEX overrides_scope ON seasongate.overrides (environment, territory, valid_until);

CREATE TABLE seasongate.approvals (
    override_id text NOT NULL REFERENCES seasongate.overrides (id),
    approver text NOT NULL,
    approved_at timestamptz NOT NULL,
    comment text NOT NULL DEFAULT '',
    PRIMARY KEY (override_id, approver)
);

CREATE TABLE seasongate.audit (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    payload json NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_at ON seasongate.audit (at);

REVOKE ALL ON seasongate.meta, seasongate.overrides, seasongate.approvals, seasongate.audit
    FROM PUBLIC;
GRANT SELECT ON seasongate.meta, seasongate.overrides, seasongate.approvals, seasongate.audit
    TO PUBLIC;

-- One field of an audit entry's canonical content: '<UTF-8 byte length>:<text>'.
CREATE FUNCTION seasongate._field(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT octet_length(convert_to(t, 'UTF8'))::text || ':' || t $$;

CREATE FUNCTION seasongate._iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') $$;

-- Schema 1's functions (with client-supplied actors' instants) are replaced by schema 2.
"""


# Schema 2. ``<<name arg=expr | arg=expr>>`` is a refusal of REFUSALS, expanded below.
_V2 = r"""
DROP FUNCTION IF EXISTS seasongate.audit_append(text, text, text, json, timestamptz);
DROP FUNCTION IF EXISTS seasongate._audit_append(text, text, text, json, timestamptz);

-- The server's clock, unless the schema owner set one (tests only; empty in production).
CREATE TABLE seasongate.clock (
    at timestamptz NOT NULL,
    one boolean PRIMARY KEY DEFAULT true CHECK (one)
);
REVOKE ALL ON seasongate.clock FROM PUBLIC;
GRANT SELECT ON seasongate.clock TO PUBLIC;

CREATE INDEX audit_subject ON seasongate.audit (subject, seq);

CREATE FUNCTION seasongate._now() RETURNS timestamptz
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT date_trunc('second', coalesce((SELECT at FROM seasongate.clock), clock_timestamp())) $$;

-- Serialize writers on the chain and say when this change happens: the server's clock, or
-- the time of the last entry if that is later (audit times never go backwards).
CREATE FUNCTION seasongate._begin_change() RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_last timestamptz;
BEGIN
    -- Appends queue here; readers (ACCESS SHARE) are not blocked.
    LOCK TABLE seasongate.audit IN EXCLUSIVE MODE;
    SELECT at INTO v_last FROM seasongate.audit ORDER BY seq DESC LIMIT 1;
    RETURN greatest(seasongate._now(), v_last);
END
$$;

-- The one writer of the audit chain; p_at comes from _begin_change. Not callable by PUBLIC.
CREATE FUNCTION seasongate._audit_append(
    p_action text, p_subject text, p_payload json, p_at timestamptz
) RETURNS seasongate.audit
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_last seasongate.audit;
    v_found boolean;
    v_head text;
    v_seq bigint := 1;
    v_prev text := repeat('0', 64);
    v_hash text;
    v_row seasongate.audit;
BEGIN
    IF coalesce(btrim(p_action), '') = '' OR p_subject IS NULL OR p_payload IS NULL THEN
        RAISE EXCEPTION 'an audit entry needs an action, a subject and a payload'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOCK TABLE seasongate.audit IN EXCLUSIVE MODE;
    SELECT * INTO v_last FROM seasongate.audit ORDER BY seq DESC LIMIT 1;
    v_found := FOUND;
    SELECT value INTO v_head FROM seasongate.meta WHERE key = 'audit_head';
    -- Never paper over entries deleted or changed behind seasongate's back.
    IF v_head IS DISTINCT FROM (CASE WHEN v_found THEN v_last.seq::text || ':' || v_last.hash END) THEN
        <<trail_changed>>
    END IF;
    IF v_found THEN
        v_seq := v_last.seq + 1;
        v_prev := v_last.hash;
    END IF;
    v_hash := encode(sha256(convert_to(concat_ws(E'\n',
        seasongate._field(v_seq::text),
        seasongate._field(floor(extract(epoch FROM p_at))::bigint::text),
        seasongate._field(session_user),
        seasongate._field(p_action),
        seasongate._field(p_subject),
        seasongate._field(p_payload::text),
        seasongate._field(v_prev)), 'UTF8')), 'hex');
    INSERT INTO seasongate.audit (seq, at, actor, action, subject, payload, prev_hash, hash)
    VALUES (v_seq, p_at, session_user, p_action, p_subject, p_payload, v_prev, v_hash)
    RETURNING * INTO v_row;
    INSERT INTO seasongate.meta (key, value) VALUES ('audit_head', v_seq::text || ':' || v_hash)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    RETURN v_row;
END
$$;

-- Public: gate decisions, migration outcomes, runs; in session_user's name, at the server's
-- time. Override actions come from their functions.
CREATE FUNCTION seasongate.audit_append(p_action text, p_subject text, p_payload json)
RETURNS seasongate.audit
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_action LIKE 'override.%' THEN
        <<reserved_action action=p_action>>
    END IF;
    RETURN seasongate._audit_append(p_action, p_subject, p_payload, seasongate._begin_change());
END
$$;

-- Functions are executable by PUBLIC by default: take that back from the internal ones.
REVOKE ALL ON FUNCTION seasongate._audit_append(text, text, json, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._begin_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._now() FROM PUBLIC;
"""

_REFUSAL = re.compile(r"<<(\w+)((?:\s[^>]*)?)>>")


def raise_statement(name: str, exprs: dict[str, str]) -> str:
    """The PL/pgSQL ``RAISE`` of refusal ``name``: its template as a ``format()`` call whose
    arguments are the SQL expressions for the template's fields, under its SQLSTATE."""
    refusal = REFUSALS[name]
    fields = re.findall(r"\{(\w+)\}", refusal.template)
    pattern = re.sub(r"\{\w+\}", "%s", refusal.template.replace("%", "%%")).replace("'", "''")
    args = "".join(f", {exprs[field]}" for field in fields)
    return f"RAISE EXCEPTION USING ERRCODE = '{refusal.sqlstate}', MESSAGE = format('{pattern}'{args});"


def _expand(sql: str) -> str:
    def one(match: re.Match[str]) -> str:
        pairs = [part.strip() for part in match.group(2).split("|") if part.strip()]
        exprs = dict(pair.split("=", 1) for pair in pairs)
        return raise_statement(match.group(1), {k.strip(): v.strip() for k, v in exprs.items()})

    expanded = _REFUSAL.sub(one, sql)
    return expanded.replace("@MIGRATOR@", MIGRATOR_ROLE).replace("@RELEASE_MANAGER@", RELEASE_MANAGER)


SCHEMA: dict[int, str] = {1: _V1, 2: _expand(_V2 + OVERRIDES_V2)}
