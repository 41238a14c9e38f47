"""The PostgreSQL schema ``seasongate``: tables, grants and the SECURITY DEFINER functions.

Who may do what is decided by the database, not only by the Python client:

* the tables are readable by everyone (``SELECT`` to ``PUBLIC``) and writable by their
  owner only: no one else can insert an approval or change an override or an audit entry;
* every change goes through a function below. They run with the owner's rights
  (``SECURITY DEFINER``) and a fixed ``search_path``, take the acting user from
  ``session_user`` (not a parameter, and unaffected by ``SET ROLE``) and check the same rules
  as ``seasongate._overrides``, with the same messages: no approving your own request, an
  approver must be a member of the PostgreSQL role ``seasongate_<role>`` for each role the
  override needs, closed overrides stay closed;
* the audit chain is extended in SQL (``_audit_append``, callable by the functions only) under
  ``LOCK TABLE audit IN EXCLUSIVE MODE``, so concurrent writers queue and the chain never forks.

Schema 2 closes what schema 1 left to the client: the actor of every entry is
``session_user`` and its time the server's clock (``seasongate._now()``: ``clock_timestamp()``,
or the row of ``seasongate.clock`` that only the schema owner can write, which tests use and
production leaves empty), never a parameter; audit times never go backwards (an entry is
stamped no earlier than the one before it); each approval records the roles it was made
under; only members of ``seasongate_migrator`` consume an override, together with the gate's
allowing decision; release managers can always revoke. The refusals are raised from
``seasongate._overrides.REFUSALS``, so both languages say the same words.

Each entry of :data:`SCHEMA` upgrades the schema from the version before it.
"""

from __future__ import annotations

import re

from seasongate._overrides import MIGRATOR_ROLE, REFUSALS, RELEASE_MANAGER

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
DROP FUNCTION IF EXISTS seasongate.request_override(text, text, text, text, text[], timestamptz,
    timestamptz, text, text, boolean, integer, text[], integer, timestamptz);
DROP FUNCTION IF EXISTS seasongate.approve_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.reject_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.revoke_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.consume_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate._missing_role(seasongate.overrides);
DROP FUNCTION IF EXISTS seasongate._status(seasongate.overrides, timestamptz);
DROP FUNCTION IF EXISTS seasongate._lock_override(text);

-- The server's clock, unless the schema owner set one (tests only; empty in production).
CREATE TABLE seasongate.clock (
    at timestamptz NOT NULL,
    one boolean PRIMARY KEY DEFAULT true CHECK (one)
);
REVOKE ALL ON seasongate.clock FROM PUBLIC;
GRANT SELECT ON seasongate.clock TO PUBLIC;

-- Schema-1 approvals were made by people holding every role of their override.
ALTER TABLE seasongate.approvals ADD COLUMN roles text[];
UPDATE seasongate.approvals a SET roles = o.roles FROM seasongate.overrides o
WHERE o.id = a.override_id;
ALTER TABLE seasongate.approvals ALTER COLUMN roles SET NOT NULL;
ALTER TABLE seasongate.approvals ADD CHECK (cardinality(roles) >= 1);
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

CREATE FUNCTION seasongate._status(o seasongate.overrides, p_at timestamptz) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN o.revoked_at IS NOT NULL THEN 'revoked'
        WHEN o.rejected_at IS NOT NULL THEN 'rejected'
        WHEN o.consumed_at IS NOT NULL THEN 'consumed'
        WHEN p_at >= o.valid_until THEN 'expired'
        WHEN EXISTS (
            SELECT 1 FROM unnest(o.roles) AS r(role)
            WHERE (SELECT count(*) FROM seasongate.approvals a
                   WHERE a.override_id = o.id AND a.approver <> o.requester
                     AND r.role = ANY (a.roles)) < o.approvals_required) THEN 'pending'
        WHEN p_at < o.valid_from THEN 'scheduled'
        ELSE 'active'
    END
$$;

-- Whether session_user is a member of seasongate_<role>; a missing role is an error when
-- p_strict (someone must create it), otherwise nobody holds it.
CREATE FUNCTION seasongate._holds(p_role text, p_strict boolean) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'seasongate_' || p_role) THEN
        IF NOT p_strict THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'PostgreSQL role % does not exist: create it and grant it to '
            'whoever may approve overrides (CREATE ROLE % NOLOGIN)',
            'seasongate_' || p_role, quote_ident('seasongate_' || p_role)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN pg_catalog.pg_has_role(session_user, 'seasongate_' || p_role, 'MEMBER');
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

CREATE FUNCTION seasongate._lock_override(p_id text) RETURNS seasongate.overrides
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides;
BEGIN
    SELECT * INTO o FROM seasongate.overrides WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        <<unknown id=p_id>>
    END IF;
    RETURN o;
END
$$;

CREATE FUNCTION seasongate.request_override(
    p_id text, p_environment text, p_territory text, p_versions text, p_rules text[],
    p_valid_from timestamptz, p_valid_until timestamptz, p_reason text, p_ticket text,
    p_single_use boolean, p_approvals integer, p_roles text[], p_max_validity integer
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_at timestamptz := seasongate._begin_change();
BEGIN
    -- Whatever a caller passes must be a state the chain explains and seasongate can read
    -- back, or one request could make every check of its scope fail (closed).
    p_valid_from := date_trunc('second', p_valid_from);
    p_valid_until := date_trunc('second', p_valid_until);
    IF p_versions IS NULL
       OR p_versions !~ '^(any|V[0-9]{1,18}(\.[0-9]{1,18})*(\.\.V[0-9]{1,18}(\.[0-9]{1,18})*)?)$'
       OR (position('..' IN p_versions) > 0
           AND string_to_array(substr(split_part(p_versions, '..', 1), 2), '.')::numeric[]
             > string_to_array(substr(split_part(p_versions, '..', 2), 2), '.')::numeric[]) THEN
        RAISE EXCEPTION 'invalid version range %: use V226, V226..V230 or any', quote_literal(p_versions)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_valid_until <= v_at THEN
        <<ends_before_now until=seasongate._iso(p_valid_until) | at=seasongate._iso(v_at)>>
    END IF;
    INSERT INTO seasongate.overrides (
        id, environment, territory, versions, rules, valid_from, valid_until, requester, reason,
        ticket, single_use, approvals_required, roles, max_validity, created_at)
    VALUES (
        p_id, p_environment, p_territory, p_versions, p_rules, p_valid_from, p_valid_until,
        session_user, p_reason, p_ticket, p_single_use, p_approvals, p_roles, p_max_validity,
        v_at);
    PERFORM seasongate._audit_append('override.request', p_id,
        json_build_object(
            'environment', p_environment, 'territory', p_territory, 'versions', p_versions,
            'rules', p_rules, 'valid_from', seasongate._iso(p_valid_from),
            'valid_until', seasongate._iso(p_valid_until), 'reason', p_reason,
            'ticket', p_ticket, 'single_use', p_single_use, 'approvals_required', p_approvals,
            'roles', p_roles, 'max_validity', p_max_validity),
        v_at);
END
$$;

-- Returns whether the approval is new (approving twice counts once).
CREATE FUNCTION seasongate.approve_override(p_id text, p_comment text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides := seasongate._lock_override(p_id);
    v_at timestamptz := seasongate._begin_change();
    v_status text := seasongate._status(o, v_at);
    v_roles text[];
    v_count bigint;
BEGIN
    IF v_status NOT IN ('pending', 'scheduled', 'active') THEN
        <<closed id=p_id | status=v_status | verb='approved'>>
    END IF;
    IF v_at < o.created_at THEN
        <<before_request id=p_id | requested=seasongate._iso(o.created_at)
            | verb='approved' | at=seasongate._iso(v_at)>>
    END IF;
    IF session_user = o.requester THEN
        <<self_approve actor=session_user | id=p_id>>
    END IF;
    v_roles := ARRAY(SELECT r FROM unnest(o.roles) AS r WHERE seasongate._holds(r, true));
    IF cardinality(v_roles) = 0 THEN
        <<no_role actor=session_user | id=p_id | roles=array_to_string(o.roles, ', ')>>
    END IF;
    IF EXISTS (SELECT 1 FROM seasongate.approvals
               WHERE override_id = p_id AND approver = session_user) THEN
        RETURN false;
    END IF;
    INSERT INTO seasongate.approvals (override_id, approver, approved_at, comment, roles)
    VALUES (p_id, session_user, v_at, coalesce(p_comment, ''), v_roles);
    SELECT min((SELECT count(*) FROM seasongate.approvals a
                WHERE a.override_id = p_id AND a.approver <> o.requester AND r = ANY (a.roles)))
    INTO v_count FROM unnest(o.roles) AS r;
    PERFORM seasongate._audit_append('override.approve', p_id,
        json_build_object('comment', coalesce(p_comment, ''), 'roles', v_roles,
                          'approvals', v_count, 'required', o.approvals_required),
        v_at);
    RETURN true;
END
$$;

CREATE FUNCTION seasongate.reject_override(p_id text, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides := seasongate._lock_override(p_id);
    v_at timestamptz := seasongate._begin_change();
    v_status text := seasongate._status(o, v_at);
BEGIN
    IF v_status IN ('scheduled', 'active') THEN
        <<reject_approved id=p_id | status=v_status>>
    END IF;
    IF v_status <> 'pending' THEN
        <<closed id=p_id | status=v_status | verb='rejected'>>
    END IF;
    IF v_at < o.created_at THEN
        <<before_request id=p_id | requested=seasongate._iso(o.created_at)
            | verb='rejected' | at=seasongate._iso(v_at)>>
    END IF;
    IF session_user = o.requester THEN
        <<self_reject actor=session_user | id=p_id>>
    END IF;
    IF NOT EXISTS (SELECT 1 FROM unnest(o.roles) AS r WHERE seasongate._holds(r, true)) THEN
        <<no_role actor=session_user | id=p_id | roles=array_to_string(o.roles, ', ')>>
    END IF;
    IF coalesce(btrim(p_reason), '') = '' THEN
        <<empty_reason>>
    END IF;
    UPDATE seasongate.overrides
    SET rejected_at = v_at, rejected_by = session_user, reject_reason = p_reason
    WHERE id = p_id;
    PERFORM seasongate._audit_append('override.reject', p_id,
        json_build_object('reason', p_reason), v_at);
END
$$;

CREATE FUNCTION seasongate.revoke_override(p_id text, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides := seasongate._lock_override(p_id);
    v_at timestamptz := seasongate._begin_change();
    v_status text := seasongate._status(o, v_at);
BEGIN
    IF v_status NOT IN ('pending', 'scheduled', 'active') THEN
        <<closed id=p_id | status=v_status | verb='revoked'>>
    END IF;
    IF v_at < o.created_at THEN
        <<before_request id=p_id | requested=seasongate._iso(o.created_at)
            | verb='revoked' | at=seasongate._iso(v_at)>>
    END IF;
    IF session_user <> o.requester
       AND NOT seasongate._holds('@RELEASE_MANAGER@', false)
       AND NOT EXISTS (SELECT 1 FROM unnest(o.roles) AS r WHERE seasongate._holds(r, false)) THEN
        <<revoke_denied actor=session_user | id=p_id | roles=array_to_string(o.roles, ', ')>>
    END IF;
    IF coalesce(btrim(p_reason), '') = '' THEN
        <<empty_reason>>
    END IF;
    UPDATE seasongate.overrides
    SET revoked_at = v_at, revoked_by = session_user, revoke_reason = p_reason
    WHERE id = p_id;
    PERFORM seasongate._audit_append('override.revoke', p_id,
        json_build_object('reason', p_reason), v_at);
END
$$;

-- Only a member of seasongate_migrator, and only together with the gate's decision allowing
-- this run with this override (recorded in the same transaction). Returns whether the
-- override was consumed (single use); using any other one records nothing.
CREATE FUNCTION seasongate.consume_override(p_id text, p_subject text, p_decision json)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides := seasongate._lock_override(p_id);
    v_at timestamptz := seasongate._begin_change();
    v_status text := seasongate._status(o, v_at);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '@MIGRATOR@')
       OR NOT pg_catalog.pg_has_role(session_user, '@MIGRATOR@', 'MEMBER') THEN
        <<not_migrator actor=session_user | id=p_id>>
    END IF;
    IF p_decision IS NULL OR json_typeof(p_decision) <> 'object'
       OR coalesce(p_decision->>'verdict', '') <> 'allow'
       OR coalesce(p_decision->'override'->>'id', '') <> p_id
       OR coalesce(p_decision->>'environment', '') <> o.environment
       OR coalesce(p_decision->>'territory', '') <> o.territory THEN
        <<not_allowed_run id=p_id>>
    END IF;
    IF NOT o.single_use THEN
        RETURN false;
    END IF;
    IF o.consumed_at IS NOT NULL THEN
        <<closed id=p_id | status='consumed' | verb='used'>>
    END IF;
    IF v_status <> 'active' THEN
        <<unusable id=p_id | status=v_status>>
    END IF;
    UPDATE seasongate.overrides
    SET consumed_at = v_at, consumed_by = session_user, consumed_subject = p_subject
    WHERE id = p_id;
    PERFORM seasongate._audit_append('decision', coalesce(p_subject, ''), p_decision, v_at);
    PERFORM seasongate._audit_append('override.consume', p_id,
        json_build_object('subject', p_subject), v_at);
    RETURN true;
END
$$;

-- Functions are executable by PUBLIC by default: take that back from the internal ones.
REVOKE ALL ON FUNCTION seasongate._audit_append(text, text, json, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._begin_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._lock_override(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._holds(text, boolean) FROM PUBLIC;
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


SCHEMA: dict[int, str] = {1: _V1, 2: _expand(_V2)}
