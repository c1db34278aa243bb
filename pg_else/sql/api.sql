-- The analyst API: search, trace, summary and friends. Journeys are built at
-- query time from the indexed lines, so answers never depend on arrival
-- order: by the query pipeline in Rust (pg_else/src/query/), which reads lines
-- only through the lookup (lookup.sql). search and trace here are thin
-- wrappers: privileges, sorting, and the planner settings for the lookups
-- the pipeline runs. Without JIT: the row estimates of a multi-day partition
-- scan pass jit_above_cost, and compiling then cost 15 ms per statement for
-- queries that read a few hundred lines by index (measured at 10M lines).
-- Without sequential scans: every lookup is an index lookup, but the
-- estimate for `keys && <many keys>` over compacted blocks (no element
-- statistics for unique keys) once made a 50,000-block scan look cheaper
-- than the GIN index: 5 s instead of 1 ms (measured at 10M lines, compacted).

-- One message journey and recipient, as search returns it. (A type rather than
-- RETURNS TABLE because its column names equal search's parameter names.)
-- Groups decide what an analyst sees (README "Groups"). An admin attaches
-- roles, hosts and mail domains to a group; a member of a group's role sees
-- the journeys that ran on its hosts or whose sender or a recipient is in its
-- domains (a domain with subdomains also covers every name below it). Role
-- names, not OIDs: a dump restores into another cluster.
CREATE TABLE maillog.groups (
    name    text PRIMARY KEY,
    comment text
);
CREATE TABLE maillog.group_roles (
    grp  text NOT NULL REFERENCES maillog.groups ON UPDATE CASCADE ON DELETE CASCADE,
    role name NOT NULL,
    PRIMARY KEY (grp, role)
);
CREATE TABLE maillog.group_hosts (
    grp  text NOT NULL REFERENCES maillog.groups ON UPDATE CASCADE ON DELETE CASCADE,
    host text NOT NULL,
    PRIMARY KEY (grp, host)
);
CREATE TABLE maillog.group_domains (
    grp        text NOT NULL REFERENCES maillog.groups ON UPDATE CASCADE ON DELETE CASCADE,
    domain     text NOT NULL CHECK (domain = lower(domain) AND domain NOT LIKE '@%'),
    subdomains bool NOT NULL DEFAULT false,
    PRIMARY KEY (grp, domain)
);
SELECT pg_catalog.pg_extension_config_dump('maillog.groups', '');
SELECT pg_catalog.pg_extension_config_dump('maillog.group_roles', '');
SELECT pg_catalog.pg_extension_config_dump('maillog.group_hosts', '');
SELECT pg_catalog.pg_extension_config_dump('maillog.group_domains', '');

-- What the caller may see. The caller is the role in effect where the API was
-- called: SET ROLE (the web UI switches to the person's role) or the login
-- role. Inside the definer functions current_user is the owner, but the
-- `role` setting and session_user still name the caller, and neither can be
-- set to a role the session may not use.
CREATE TYPE maillog.scope AS (admin bool, hosts text[], domains text[], subdomains text[]);
CREATE FUNCTION maillog._scope() RETURNS maillog.scope
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH caller AS (
        SELECT CASE current_setting('role') WHEN 'none' THEN session_user::text
                    ELSE current_setting('role') END AS r),
    mine AS (
        SELECT gr.grp FROM maillog.group_roles gr, caller
         WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = gr.role)
           AND pg_has_role(caller.r, gr.role, 'USAGE'))
    SELECT ROW(
        (SELECT rolsuper FROM pg_roles, caller WHERE rolname = caller.r)
            OR pg_has_role((SELECT r FROM caller), 'else_admin', 'USAGE'),
        ARRAY(SELECT DISTINCT host FROM maillog.group_hosts WHERE grp IN (SELECT grp FROM mine)),
        ARRAY(SELECT DISTINCT domain FROM maillog.group_domains WHERE grp IN (SELECT grp FROM mine)),
        ARRAY(SELECT DISTINCT domain FROM maillog.group_domains
               WHERE subdomains AND grp IN (SELECT grp FROM mine)))::maillog.scope
$$;

-- Is the address in one of the scope's domains?
CREATE FUNCTION maillog._in_domains(addr text, sc maillog.scope) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT addr IS NOT NULL AND position('@' IN addr) > 0 AND (
           lower(regexp_replace(addr, '^.*@', '')) = ANY (sc.domains)
        OR EXISTS (SELECT FROM unnest(sc.subdomains) s
                    WHERE right(lower(regexp_replace(addr, '^.*@', '')), length(s) + 1) = '.' || s))
$$;

-- A recipient as the scope may read it in a line of `host`: as stored for an
-- admin, on the scope's hosts and in its domains, else '<redacted>'.
CREATE FUNCTION maillog._shown(addr text, host text, sc maillog.scope) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN addr IS NULL OR sc.admin OR host = ANY (sc.hosts) OR maillog._in_domains(addr, sc)
                THEN addr ELSE '<redacted>' END
$$;

-- Does a line naming several recipients (amavis, Exchange) name one in the
-- scope's domains? (Its recipient column holds only the first.)
CREATE FUNCTION maillog._list_in_domains(kind text, program text, msg text, sc maillog.scope) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT kind IN ('amavis', 'exchange')
       AND EXISTS (SELECT FROM unnest(maillog._recipient_keys(program, msg)) r
                    WHERE left(r, 1) <> '@' AND maillog._in_domains(r, sc))
$$;

-- The lines the caller may count (summary, per_hour, top, kinds): every line
-- for an admin; else the lines of their hosts, and the lines of queue entries
-- that name an address of their domains, except deliveries to other domains'
-- recipients. (Per queue entry, not per journey: counting follows no hops.)
CREATE FUNCTION maillog._visible_lines(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    -- One SELECT, so the planner inlines it; each (SELECT maillog._scope())
    -- is computed once, and for an admin the first test decides every row
    -- (the queue-entry subquery is then never run).
    -- Recipients outside the caller's domains read '<redacted>' (top lists name
    -- them), as in search (maillog_core::redact::MASK); the columns are
    -- maillog.line's, in its order.
    SELECT l.at, l.uid, l.host, l.program, l.pid, l.qid, l.kind, l.status, l.sender,
           maillog._shown(l.rcpt, l.host, (SELECT maillog._scope())),
           maillog._shown(l.orig_rcpt, l.host, (SELECT maillog._scope())),
           l.msgid, l.client, l.client_name, l.link, l.size, l.msg, l.writer
      FROM maillog.lines(since, until) l
     WHERE ((SELECT maillog._scope())).admin
        OR l.host = ANY (((SELECT maillog._scope())).hosts)
        OR ((l.rcpt IS NULL OR maillog._in_domains(l.rcpt, (SELECT maillog._scope()))
             OR maillog._in_domains(l.orig_rcpt, (SELECT maillog._scope()))
             OR maillog._list_in_domains(l.kind, l.program, l.msg, (SELECT maillog._scope())))
            AND ((l.host, l.qid) IN (
                    SELECT q.host, q.qid FROM maillog.lines(since, until) q
                     WHERE q.qid IS NOT NULL
                       AND (maillog._in_domains(q.sender, (SELECT maillog._scope()))
                            OR maillog._in_domains(q.rcpt, (SELECT maillog._scope()))
                            OR maillog._in_domains(q.orig_rcpt, (SELECT maillog._scope()))
                            OR maillog._list_in_domains(q.kind, q.program, q.msg, (SELECT maillog._scope()))))
                 OR (l.qid IS NULL AND (maillog._in_domains(l.sender, (SELECT maillog._scope()))
                                        OR maillog._in_domains(l.rcpt, (SELECT maillog._scope()))))))
$$;

CREATE TYPE maillog.journey AS (
    received_at timestamptz, host text, queue_id text, sender text, recipient text,
    orig_recipient text, status text, dsn text, relay text, delay float8, response text,
    client text, sasl_username text, message_id text, size bigint, client_name text,
    finished_at timestamptz, path text[], notification text, notification_of text,
    retried_as text);

CREATE FUNCTION maillog.search(
    sender text DEFAULT NULL,
    recipient text DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    status text DEFAULT NULL,
    client text DEFAULT NULL,
    message_id text DEFAULT NULL,
    host text DEFAULT NULL,
    max_rows int DEFAULT 1000,
    queue_id text DEFAULT NULL)
RETURNS SETOF maillog.journey
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET jit = off SET enable_seqscan = off AS $$
    SELECT j.received_at, j.host, j.queue_id, j.sender, j.recipient, j.orig_recipient, j.status, j.dsn,
           j.relay, j.delay, j.response, j.client, j.sasl_username, j.message_id, j.size, j.client_name,
           j.finished_at, j.path, j.notification, j.notification_of, j.retried_as
      FROM maillog._search($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) j
     ORDER BY j.received_at DESC, j.queue_id, j.sort_recipient
     -- (At least 1, so that _search runs and refuses max_rows out of range.)
     LIMIT CASE WHEN $9 < 1 THEN 1 ELSE $9 END
$$;

CREATE FUNCTION maillog.trace(key text)
RETURNS TABLE (at timestamptz, host text, program text, pid int, queue_id text, kind text, line text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET jit = off SET enable_seqscan = off AS $$
    SELECT t.at, t.host, t.program, t.pid, t.queue_id, t.kind,
           maillog.format_line(t.at, t.host, t.program, t.pid, t.msg)
      FROM maillog._trace($1) t
$$;

-- A stored line printed back in RFC 3339 syslog form.
CREATE FUNCTION maillog.format_line(at timestamptz, host text, program text, pid int, msg text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') || ' ' || host || ' ' || program
           || coalesce('[' || pid || ']', '') || ': ' || msg
$$;

-- The events the totals count, one definition for summary, per_hour and top:
-- what a line is worth to pflogsumm-style statistics (NULL: not counted).
-- A delivery that only forwarded the message to another hop (`forwarded as`,
-- e.g. into a content filter) is `forwarded`, not `delivered`.
CREATE FUNCTION maillog._event(kind text, status text, msg text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
             WHEN kind IN ('client', 'pickup') THEN 'received'
             WHEN kind = 'delivery' AND status = 'sent' AND msg LIKE '%forwarded as %' THEN 'forwarded'
             WHEN kind = 'delivery' AND status = 'sent' THEN 'delivered'
             WHEN kind = 'delivery' AND status IN ('deferred', 'bounced') THEN status
             WHEN kind = 'expired' THEN 'expired'
             WHEN kind = 'reject' AND status IN ('reject', 'milter-reject') THEN 'rejected'
             WHEN kind = 'reject' AND status = 'hold' THEN 'held'
             WHEN kind = 'reject' AND status = 'discard' THEN 'discarded'
           END
$$;

-- Grand totals in the spirit of pflogsumm, computed from the lines (see README
-- for how each metric is defined and where it differs from pflogsumm).
CREATE FUNCTION maillog.summary(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS TABLE (metric text, value bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH l AS (SELECT v.*, maillog._event(v.kind, v.status, v.msg) AS ev FROM maillog._visible_lines(since, until) v),
    -- The size of each received queue entry (its first queue-manager line),
    -- in one grouping pass: a join of the two CTEs ran as a nested loop
    -- (9 s for 20,000 lines).
    sizes AS (
        SELECT (array_agg(size ORDER BY at) FILTER (WHERE kind = 'queued'))[1] AS size
          FROM l WHERE qid IS NOT NULL AND kind IN ('client', 'pickup', 'queued')
         GROUP BY host, qid
        HAVING bool_or(ev = 'received')),
    t AS (
        SELECT count(*) AS lines,
               count(*) FILTER (WHERE kind = 'other') AS unparsed,
               count(*) FILTER (WHERE ev = 'received') AS received,
               count(*) FILTER (WHERE ev = 'delivered') AS delivered,
               count(*) FILTER (WHERE ev = 'forwarded') AS forwarded,
               count(DISTINCT host || ':' || qid) FILTER (WHERE ev = 'deferred') AS deferred,
               count(*) FILTER (WHERE ev = 'deferred') AS deferrals,
               count(*) FILTER (WHERE ev = 'bounced') AS bounced,
               count(*) FILTER (WHERE ev = 'expired') AS expired,
               count(*) FILTER (WHERE ev = 'rejected') AS rejected,
               count(*) FILTER (WHERE ev = 'held') AS held,
               count(*) FILTER (WHERE ev = 'discarded') AS discarded,
               count(DISTINCT sender) FILTER (WHERE kind IN ('queued', 'pickup')) AS senders,
               count(DISTINCT rcpt) FILTER (WHERE ev IN ('delivered', 'forwarded')) AS recipients,
               count(DISTINCT host) AS hosts
          FROM l)
    SELECT m.metric, m.value FROM t, LATERAL (VALUES
        ('lines', t.lines), ('unparsed', t.unparsed), ('received', t.received), ('delivered', t.delivered),
        ('forwarded', t.forwarded), ('deferred', t.deferred), ('deferrals', t.deferrals),
        ('bounced', t.bounced), ('expired', t.expired), ('rejected', t.rejected), ('held', t.held),
        ('discarded', t.discarded),
        ('bytes_received', (SELECT coalesce(sum(size), 0)::bigint FROM sizes)),
        ('senders', t.senders), ('recipients', t.recipients), ('hosts', t.hosts)) AS m(metric, value)
$$;

-- Per-hour traffic, like pflogsumm's per-hour table.
CREATE FUNCTION maillog.per_hour(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS TABLE (hour timestamptz, received bigint, delivered bigint, deferred bigint, bounced bigint, rejected bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT date_trunc('hour', at),
           count(*) FILTER (WHERE ev = 'received'),
           count(*) FILTER (WHERE ev IN ('delivered', 'forwarded')),
           count(*) FILTER (WHERE ev = 'deferred'),
           count(*) FILTER (WHERE ev = 'bounced'),
           count(*) FILTER (WHERE ev = 'rejected')
      FROM (SELECT v.at, maillog._event(v.kind, v.status, v.msg) AS ev FROM maillog._visible_lines(since, until) v) l
     GROUP BY 1 ORDER BY 1
$$;

-- Top senders, recipients, sender/recipient domains, clients and reject reasons.
CREATE FUNCTION maillog.top(what text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL, n int DEFAULT 10)
RETURNS TABLE (key text, messages bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT k, count(*) FROM (
        SELECT CASE what
                 WHEN 'senders' THEN CASE WHEN l.kind = 'queued' THEN l.sender END
                 WHEN 'sender_domains' THEN CASE WHEN l.kind = 'queued' THEN split_part(l.sender, '@', 2) END
                 WHEN 'recipients' THEN CASE WHEN l.ev IN ('delivered', 'forwarded') THEN l.rcpt END
                 WHEN 'recipient_domains' THEN CASE WHEN l.ev IN ('delivered', 'forwarded') THEN split_part(l.rcpt, '@', 2) END
                 WHEN 'clients' THEN CASE WHEN l.kind = 'client' THEN coalesce(l.client_name, l.client) END
                 WHEN 'bounced_recipients' THEN CASE WHEN l.ev = 'bounced' THEN l.rcpt END
                 WHEN 'rejected_clients' THEN CASE WHEN l.kind = 'reject' THEN l.client END
                 ELSE NULL END AS k
          FROM (SELECT v.*, maillog._event(v.kind, v.status, v.msg) AS ev
                  FROM maillog._visible_lines(since, until) v) l) x
     WHERE k IS NOT NULL AND k <> ''
     GROUP BY k ORDER BY count(*) DESC, k LIMIT n;
    IF NOT FOUND AND what NOT IN ('senders', 'sender_domains', 'recipients', 'recipient_domains', 'clients',
                                  'bounced_recipients', 'rejected_clients') THEN
        RAISE EXCEPTION 'maillog.top: unknown list %', what USING HINT =
            'use senders, sender_domains, recipients, recipient_domains, clients, bounced_recipients or rejected_clients';
    END IF;
END $$;

-- How many lines each program produced per kind: the parser's coverage. (A
-- view over a definer function: a view checks the functions it calls
-- against the caller, and analysts may not call maillog.lines.)
CREATE FUNCTION maillog._kinds() RETURNS TABLE (program text, kind text, lines bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.program, l.kind, count(*) FROM maillog._visible_lines() l GROUP BY 1, 2
$$;
CREATE VIEW maillog.kinds AS
    SELECT program, kind, lines FROM maillog._kinds() ORDER BY 1, 3 DESC;
