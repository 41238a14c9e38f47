"""The PostgreSQL functions that change overrides (schema 2), and the override parts of its
schema: request, approve, reject, revoke and consume, each one call of a SECURITY DEFINER
function.

They run with the owner's rights and a fixed ``search_path``, take the acting user from
``session_user`` (not a parameter, and unaffected by ``SET ROLE``) and the time from
``seasongate._begin_change()`` (the server's clock; it also queues the writers of the audit
chain), and check the same rules as ``seasongate._overrides``, with the same words: no
approving your own request, an approver must be a member of the PostgreSQL role
``seasongate_<role>`` for each role the override needs, closed overrides stay closed, release
managers can always revoke, only members of ``seasongate_migrator`` consume an override, and
only together with the gate's allowing decision.

Every function that changes one override opens the same way (:func:`_changing_one`: lock its
row, take the time, read its status). Rejecting and revoking are built from one template
(:func:`_closing_function`) and differ only in the rule of when and by whom, exactly like
``seasongate._overrides.REJECT`` and ``REVOKE``. ``<<name arg=expr>>`` is a refusal of
``REFUSALS``; ``seasongate._store._pg_sql`` expands it and assembles the schema.
"""

from __future__ import annotations

from seasongate._overrides import REJECT, REVOKE, Closing


def _changing_one(name: str, params: str, returns: str, body: str, *, variables: str = "") -> str:
    """A SECURITY DEFINER function that changes the override ``p_id``: its row locked (``o``),
    the time of the change (``v_at``) and its status then (``v_status``) in hand."""
    return f"""CREATE FUNCTION seasongate.{name}({params}) RETURNS {returns}
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o seasongate.overrides := seasongate._lock_override(p_id);
    v_at timestamptz := seasongate._begin_change();
    v_status text := seasongate._status(o, v_at);
{variables}BEGIN
{body}
END
$$;
"""


def _still_open(verb: str) -> str:
    return f"""    IF v_status NOT IN ('pending', 'scheduled', 'active') THEN
        <<closed id=p_id | status=v_status | verb='{verb}'>>
    END IF;
"""


def _not_before_request(verb: str) -> str:
    return f"""    IF v_at < o.created_at THEN
        <<before_request id=p_id | requested=seasongate._iso(o.created_at)
            | verb='{verb}' | at=seasongate._iso(v_at)>>
    END IF;
"""


# When an override can be closed each way, and by whom (``check_reject`` / ``check_revoke``).
_MAY_CLOSE: dict[str, tuple[str, str]] = {
    REJECT.name: (
        """    IF v_status IN ('scheduled', 'active') THEN
        <<reject_approved id=p_id | status=v_status>>
    END IF;
    IF v_status <> 'pending' THEN
        <<closed id=p_id | status=v_status | verb='rejected'>>
    END IF;
""",
        """    IF session_user = o.requester THEN
        <<self_reject actor=session_user | id=p_id>>
    END IF;
    IF NOT EXISTS (SELECT 1 FROM unnest(o.roles) AS r WHERE seasongate._holds(r, true)) THEN
        <<no_role actor=session_user | id=p_id | roles=array_to_string(o.roles, ', ')>>
    END IF;
""",
    ),
    REVOKE.name: (
        _still_open(REVOKE.status),
        """    IF session_user <> o.requester
       AND NOT seasongate._holds('@RELEASE_MANAGER@', false)
       AND NOT EXISTS (SELECT 1 FROM unnest(o.roles) AS r WHERE seasongate._holds(r, false)) THEN
        <<revoke_denied actor=session_user | id=p_id | roles=array_to_string(o.roles, ', ')>>
    END IF;
""",
    ),
}


def _closing_function(closing: Closing) -> str:
    """``seasongate.reject_override`` / ``revoke_override``: check, record the closure with
    its reason, append its entry."""
    when, who = _MAY_CLOSE[closing.name]
    reason_and_record = f"""    IF coalesce(btrim(p_reason), '') = '' THEN
        <<empty_reason>>
    END IF;
    UPDATE seasongate.overrides
    SET {closing.status}_at = v_at, {closing.status}_by = session_user, {closing.name}_reason = p_reason
    WHERE id = p_id;
    PERFORM seasongate._audit_append('{closing.action}', p_id,
        json_build_object('reason', p_reason), v_at);"""
    body = when + _not_before_request(closing.status) + who + reason_and_record
    return _changing_one(f"{closing.name}_override", "p_id text, p_reason text", "void", body)


_APPROVE = _changing_one(
    "approve_override",
    "p_id text, p_comment text",
    "boolean",
    _still_open("approved")
    + _not_before_request("approved")
    + """    IF session_user = o.requester THEN
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
    RETURN true;""",
    variables="    v_roles text[];\n    v_count bigint;\n",
)

_CONSUME = _changing_one(
    "consume_override",
    "p_id text, p_subject text, p_decision json",
    "boolean",
    """    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '@MIGRATOR@')
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
    RETURN true;""",
)

OVERRIDES_V2 = "\n".join(
    [
        r"""DROP FUNCTION IF EXISTS seasongate.request_override(text, text, text, text, text[], timestamptz,
    timestamptz, text, text, boolean, integer, text[], integer, timestamptz);
DROP FUNCTION IF EXISTS seasongate.approve_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.reject_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.revoke_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate.consume_override(text, text, timestamptz);
DROP FUNCTION IF EXISTS seasongate._missing_role(seasongate.overrides);
DROP FUNCTION IF EXISTS seasongate._status(seasongate.overrides, timestamptz);
DROP FUNCTION IF EXISTS seasongate._lock_override(text);

-- Schema-1 approvals were made by people holding every role of their override.
ALTER TABLE seasongate.approvals ADD COLUMN roles text[];
UPDATE seasongate.approvals a SET roles = o.roles FROM seasongate.overrides o
WHERE o.id = a.override_id;
ALTER TABLE seasongate.approvals ALTER COLUMN roles SET NOT NULL;
ALTER TABLE seasongate.approvals ADD CHECK (cardinality(roles) >= 1);

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
""",
        "-- Returns whether the approval is new (approving twice counts once).",
        _APPROVE,
        _closing_function(REJECT),
        _closing_function(REVOKE),
        """-- Only a member of seasongate_migrator, and only together with the gate's decision allowing
-- this run with this override (recorded in the same transaction). Returns whether the
-- override was consumed (single use); using any other one records nothing.""",
        _CONSUME,
        """-- Functions are executable by PUBLIC by default: take that back from the internal ones.
REVOKE ALL ON FUNCTION seasongate._lock_override(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION seasongate._holds(text, boolean) FROM PUBLIC;
""",
    ]
)
"""The override part of schema 2 (refusals not yet expanded; ``_pg_sql`` does)."""
