-- The analyst API: search, trace, summary and friends. Correlation happens at
-- query time over the indexed lines, so answers never depend on arrival order.
-- Lines are read only through the lookup (lookup.sql), which knows the day
-- partitions and the compacted days.
-- search/trace/_gather plan every query with its real values
-- (force_custom_plan): the lookup's field names, values and time bounds then
-- fold into index conditions and partition pruning instead of a generic
-- seq-scan plan. They run without JIT: the row estimates of a multi-day
-- partition scan pass jit_above_cost, and compiling then cost 15 ms per
-- statement for queries that read a few hundred lines by index (measured at
-- 10M lines). And without sequential scans: every statement in them is an
-- index lookup, but the estimate for `keys && <many keys>` over compacted
-- blocks (no element statistics for unique keys) once made a 50,000-block
-- scan look cheaper than the GIN index: 5 s instead of 1 ms (measured at 10M
-- lines, compacted).

-- Gather every line of the journeys that start from the seed queue IDs: each
-- round fetches the lines of the queue IDs new in that round (kept for the
-- answer, so no line is read twice), takes the hops they name forward
-- (`link` = next queue ID) and finds the hops pointing back at them (the
-- link index carries the queue ID: an index-only probe), until nothing new
-- turns up. Time-bounded to the seeds' span widened by the queue-ID window
-- (maillog._find), so partitions outside are pruned.
CREATE FUNCTION maillog._gather(seed_qids text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
SET jit = off SET enable_seqscan = off AS $$
DECLARE
    known text[] := ARRAY(SELECT DISTINCT q FROM unnest(seed_qids) q WHERE q IS NOT NULL);
    frontier text[] := known;
    found text[];
    got maillog.line[] := '{}';
    batch maillog.line[];
BEGIN
    -- As many rounds as the correlator follows hops (maillog_core).
    FOR depth IN 1..maillog._max_hops() LOOP
        EXIT WHEN cardinality(frontier) = 0;
        batch := ARRAY(SELECT f FROM maillog._find('queue_id', frontier, lo, hi) f);
        got := got || batch;
        found := ARRAY(
            SELECT b.link FROM unnest(batch) b WHERE b.link IS NOT NULL
            UNION
            SELECT q FROM maillog._linked(frontier, lo, hi) q);
        frontier := ARRAY(SELECT unnest(found) EXCEPT SELECT unnest(known));
        known := known || frontier;
    END LOOP;
    RETURN QUERY SELECT * FROM unnest(got);
END $$;

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
    SELECT l.* FROM maillog.lines(since, until) l
     WHERE ((SELECT maillog._scope())).admin
        OR l.host = ANY (((SELECT maillog._scope())).hosts)
        OR ((l.rcpt IS NULL OR maillog._in_domains(l.rcpt, (SELECT maillog._scope()))
             OR maillog._in_domains(l.orig_rcpt, (SELECT maillog._scope())))
            AND ((l.host, l.qid) IN (
                    SELECT q.host, q.qid FROM maillog.lines(since, until) q
                     WHERE q.qid IS NOT NULL
                       AND (maillog._in_domains(q.sender, (SELECT maillog._scope()))
                            OR maillog._in_domains(q.rcpt, (SELECT maillog._scope()))
                            OR maillog._in_domains(q.orig_rcpt, (SELECT maillog._scope()))))
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
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
SET jit = off SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    p_sender text := lower(search.sender);
    p_rcpt text := lower(search.recipient);
    p_msgid text := btrim(search.message_id, '<> ');
    p_client text := lower(search.client);
    -- The stored forms of the values asked for (bounded when very long, see
    -- maillog._key): the seed lookups use these, the final filter the values.
    k_sender text := maillog._key(p_sender);
    k_rcpt text := maillog._key(p_rcpt);
    k_msgid text := maillog._key(p_msgid);
    k_client text := maillog._key(p_client);
    -- A queue ID names one journey (the web UI's journey page and quick search).
    p_qid text := nullif(btrim(search.queue_id), '');
    k_qid text := maillog._key(p_qid);
    -- Seed lines may be logged up to a queue lifetime after the journey
    -- started (each lookup field's window, see maillog._find).
    lo timestamptz := coalesce(search.since, '-infinity');
    hi timestamptz := coalesce(search.until, 'infinity');
    seed_limit int := greatest(search.max_rows, 1) * 4 + 100;
    seeds maillog.line[];
BEGIN
    IF search.max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'maillog.search: max_rows must be between 1 and 100000, not %', search.max_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF search.status IS NOT NULL AND NOT search.status = ANY (maillog._statuses()) THEN
        RAISE EXCEPTION 'maillog.search: unknown status %', search.status
            USING HINT = 'use one of ' || array_to_string(maillog._statuses(), ', ');
    END IF;
    -- 1. Seeds: the lines matching the most selective filter given
    -- (maillog._find reads day partitions and compacted days alike).
    IF k_qid IS NOT NULL THEN
        seeds := ARRAY(SELECT f FROM maillog._find('queue_id', ARRAY[k_qid], lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSIF k_rcpt IS NOT NULL THEN
        seeds := ARRAY(SELECT f FROM maillog._find('recipient', ARRAY[k_rcpt], lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSIF k_sender IS NOT NULL THEN
        seeds := ARRAY(SELECT f FROM maillog._find('sender', ARRAY[k_sender], lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSIF k_msgid IS NOT NULL THEN
        seeds := ARRAY(SELECT f FROM maillog._find('message_id', ARRAY[k_msgid], lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSIF k_client IS NOT NULL THEN
        seeds := ARRAY(SELECT f FROM maillog._find('client', ARRAY[k_client], lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSIF search.status IS NOT NULL AND search.status <> 'sent' THEN
        -- (Most lines say sent: for it the newest lines below serve as well.)
        seeds := ARRAY(SELECT f FROM maillog._find('status', maillog._status_words(search.status), lo, hi) f
                        ORDER BY f.at DESC, f.uid DESC LIMIT seed_limit);
    ELSE
        seeds := ARRAY(SELECT f FROM maillog._recent(lo, hi, search.host, seed_limit * 3) f);
    END IF;

    -- A policy server's refusal and the smtpd reject it caused are one attempt
    -- (the correlator joins them): bring the reject lines of policy seeds
    -- (same recipient and client, 2 s around) when the seeds lack them.
    IF EXISTS (SELECT 1 FROM unnest(seeds) p WHERE p.kind = 'policy') THEN
        seeds := ARRAY(SELECT DISTINCT ON (x.uid) x
                         FROM unnest(seeds || ARRAY(SELECT r FROM maillog._policy_rejects(seeds) r)) x);
    END IF;

    -- 2. Gather the seeds' journeys, 3. correlate, 4. filter on the outcome.
    RETURN QUERY
    WITH s AS (SELECT * FROM unnest(seeds)),
         lines AS (
            SELECT g.* FROM maillog._gather(ARRAY(SELECT qid FROM s WHERE qid IS NOT NULL),
                                            (SELECT min(at) FROM s), (SELECT max(at) FROM s)) g
            UNION ALL
            SELECT * FROM s WHERE s.qid IS NULL),
         o AS (
            SELECT o.* FROM (SELECT array_agg(at) a, array_agg(host) h, array_agg(program) p,
                                    array_agg(qid) q, array_agg(msg) m FROM lines) agg,
                   LATERAL maillog._correlate(agg.a, agg.h, agg.p, agg.q, agg.m) o
             WHERE agg.a IS NOT NULL),
         -- 5. Scope: on_host = the journey ran on one of the caller's hosts
         -- (everything shown); rcpt_in = this row's recipient is in their
         -- domains; a journey seen only through its sender or another
         -- recipient shows this row without the recipient's details.
         v AS (
            SELECT o.*,
                   sc.admin OR o.host = ANY (sc.hosts) OR EXISTS (
                       SELECT FROM unnest(o.path) x WHERE split_part(x, ':', 1) = ANY (sc.hosts)) AS on_host,
                   maillog._in_domains(o.recipient, sc) OR maillog._in_domains(o.orig_recipient, sc) AS rcpt_in,
                   maillog._in_domains(o.sender, sc) AS sender_in
              FROM o, maillog._scope() sc),
         w AS (
            SELECT v.*, v.on_host OR v.rcpt_in AS full_row,
                   bool_or(v.rcpt_in) OVER (PARTITION BY v.host, v.queue_id, v.received_at) AS any_rcpt_in
              FROM v)
    SELECT o.received_at, o.host, o.queue_id, o.sender,
           CASE WHEN o.full_row THEN o.recipient END, CASE WHEN o.full_row THEN o.orig_recipient END,
           o.status, o.dsn, CASE WHEN o.full_row THEN o.relay END, o.delay,
           CASE WHEN o.full_row THEN o.response END, o.client, o.sasl_username, o.message_id, o.size,
           o.client_name, o.finished_at, o.path, o.notification, o.notification_of, o.retried_as
      FROM w o
     WHERE (o.on_host OR o.rcpt_in OR o.any_rcpt_in OR o.sender_in)
       -- A recipient filter matches only recipients the caller may see.
       AND (p_rcpt IS NULL OR (o.full_row AND (maillog._addr_match(o.recipient, p_rcpt)
                                               OR maillog._addr_match(o.orig_recipient, p_rcpt))))
       AND (p_sender IS NULL OR maillog._addr_match(o.sender, p_sender))
       AND (p_msgid IS NULL OR o.message_id = p_msgid)
       AND (p_client IS NULL OR o.client = p_client OR lower(o.client_name) = p_client)
       AND (search.host IS NULL OR o.host = search.host OR search.host = ANY (
                ARRAY(SELECT split_part(x, ':', 1) FROM unnest(o.path) x)))
       AND (search.status IS NULL OR o.status = search.status)
       AND (p_qid IS NULL OR o.queue_id = p_qid
            OR EXISTS (SELECT FROM unnest(o.path) x WHERE split_part(x, ':', 2) = p_qid))
       AND o.received_at >= lo AND o.received_at <= hi
     ORDER BY o.received_at DESC, o.queue_id, o.recipient
     LIMIT search.max_rows;
END $$;

CREATE FUNCTION maillog.trace(key text)
RETURNS TABLE (at timestamptz, host text, program text, pid int, queue_id text, kind text, line text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
SET jit = off SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    asked text := btrim(trace.key, '<> ');
    -- Its stored form for the lookups (bounded when very long, see maillog._key).
    k text := maillog._key(asked);
    seeds maillog.line[];
BEGIN
    seeds := ARRAY(SELECT f FROM maillog._find('queue_id', ARRAY[k], '-infinity', 'infinity') f
                   UNION SELECT f FROM maillog._find('message_id', ARRAY[k], '-infinity', 'infinity') f);
    RETURN QUERY
    WITH s AS (SELECT * FROM unnest(seeds)),
         -- Numbered in a canonical order, whatever order the lines were read
         -- in (day partition or compacted block): lines of one second keep the
         -- queue entry's life cycle (client, message-id, queued, deliveries,
         -- expired, removed).
         lines AS (SELECT row_number() OVER (
                            ORDER BY g.at, g.host, g.qid,
                                     CASE g.kind WHEN 'client' THEN 0 WHEN 'pickup' THEN 0 WHEN 'message-id' THEN 1
                                                 WHEN 'queued' THEN 2 WHEN 'expired' THEN 4 WHEN 'removed' THEN 5
                                                 ELSE 3 END,
                                     g.msg, g.uid) AS n, g.*
                     FROM maillog._gather(ARRAY(SELECT s.qid FROM s), (SELECT min(s.at) FROM s),
                                          (SELECT max(s.at) FROM s)) g),
         agg AS (SELECT array_agg(l.at ORDER BY l.n) a, array_agg(l.host ORDER BY l.n) h,
                        array_agg(l.program ORDER BY l.n) p, array_agg(l.qid ORDER BY l.n) q,
                        array_agg(l.msg ORDER BY l.n) m FROM lines l),
         picked AS (SELECT t.pos, row_number() OVER () AS ord
                      FROM agg, LATERAL maillog._trace(agg.a, agg.h, agg.p, agg.q, agg.m, asked) AS t(pos)
                     WHERE agg.a IS NOT NULL),
         -- Scope, computed once: all lines when one of them ran on the
         -- caller's hosts; when a line names an address of their domains,
         -- the lines that name no recipient or one of theirs; else nothing.
         scope AS MATERIALIZED (SELECT maillog._scope() AS sc),
         vis AS MATERIALIZED (
            SELECT bool_or((scope.sc).admin OR v.host = ANY ((scope.sc).hosts)) AS on_host,
                   bool_or(maillog._in_domains(v.sender, scope.sc) OR maillog._in_domains(v.rcpt, scope.sc)
                           OR maillog._in_domains(v.orig_rcpt, scope.sc)) AS named
              FROM scope, picked pv JOIN lines v ON v.n = pv.pos)
    SELECT l.at, l.host, l.program, l.pid, l.qid, l.kind,
           maillog.format_line(l.at, l.host, l.program, l.pid, l.msg)
      FROM picked JOIN lines l ON l.n = picked.pos, scope, vis
     WHERE vis.on_host
        OR (vis.named AND (l.rcpt IS NULL OR maillog._in_domains(l.rcpt, scope.sc)
                           OR maillog._in_domains(l.orig_rcpt, scope.sc)))
     ORDER BY picked.ord;
END $$;

-- A stored line printed back in RFC 3339 syslog form.
CREATE FUNCTION maillog.format_line(at timestamptz, host text, program text, pid int, msg text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') || ' ' || host || ' ' || program
           || coalesce('[' || pid || ']', '') || ': ' || msg
$$;

-- Grand totals in the spirit of pflogsumm, computed from the lines (see README
-- for how each metric is defined and where it differs from pflogsumm).
CREATE FUNCTION maillog.summary(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS TABLE (metric text, value bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH l AS (SELECT * FROM maillog._visible_lines(since, until)),
    -- The size of each received queue entry (its first queue-manager line),
    -- in one grouping pass: a join of the two CTEs ran as a nested loop
    -- (9 s for 20,000 lines).
    sizes AS (
        SELECT (array_agg(size ORDER BY at) FILTER (WHERE kind = 'queued'))[1] AS size
          FROM l WHERE qid IS NOT NULL AND kind IN ('client', 'pickup', 'queued')
         GROUP BY host, qid
        HAVING bool_or(kind IN ('client', 'pickup'))),
    t AS (
        SELECT count(*) AS lines,
               count(*) FILTER (WHERE kind = 'other') AS unparsed,
               count(*) FILTER (WHERE kind IN ('client', 'pickup')) AS received,
               count(*) FILTER (WHERE kind = 'delivery' AND status = 'sent' AND msg NOT LIKE '%forwarded as %') AS delivered,
               count(*) FILTER (WHERE kind = 'delivery' AND status = 'sent' AND msg LIKE '%forwarded as %') AS forwarded,
               count(DISTINCT host || ':' || qid) FILTER (WHERE kind = 'delivery' AND status = 'deferred') AS deferred,
               count(*) FILTER (WHERE kind = 'delivery' AND status = 'deferred') AS deferrals,
               count(*) FILTER (WHERE kind = 'delivery' AND status = 'bounced') AS bounced,
               count(*) FILTER (WHERE kind = 'expired') AS expired,
               count(*) FILTER (WHERE kind = 'reject' AND status IN ('reject', 'milter-reject')) AS rejected,
               count(*) FILTER (WHERE kind = 'reject' AND status = 'hold') AS held,
               count(*) FILTER (WHERE kind = 'reject' AND status = 'discard') AS discarded,
               count(DISTINCT sender) FILTER (WHERE kind IN ('queued', 'pickup')) AS senders,
               count(DISTINCT rcpt) FILTER (WHERE kind = 'delivery' AND status = 'sent') AS recipients,
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
           count(*) FILTER (WHERE kind IN ('client', 'pickup')),
           count(*) FILTER (WHERE kind = 'delivery' AND status = 'sent'),
           count(*) FILTER (WHERE kind = 'delivery' AND status = 'deferred'),
           count(*) FILTER (WHERE kind = 'delivery' AND status = 'bounced'),
           count(*) FILTER (WHERE kind = 'reject' AND status IN ('reject', 'milter-reject'))
      FROM maillog._visible_lines(since, until)
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
                 WHEN 'recipients' THEN CASE WHEN l.kind = 'delivery' AND l.status = 'sent' THEN l.rcpt END
                 WHEN 'recipient_domains' THEN CASE WHEN l.kind = 'delivery' AND l.status = 'sent' THEN split_part(l.rcpt, '@', 2) END
                 WHEN 'clients' THEN CASE WHEN l.kind = 'client' THEN coalesce(l.client_name, l.client) END
                 WHEN 'bounced_recipients' THEN CASE WHEN l.kind = 'delivery' AND l.status = 'bounced' THEN l.rcpt END
                 WHEN 'rejected_clients' THEN CASE WHEN l.kind = 'reject' THEN l.client END
                 ELSE NULL END AS k
          FROM maillog._visible_lines(since, until) l) x
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
