-- pg_else 0.1.0 → 0.2.0 (ALTER EXTENSION pg_else UPDATE).
-- Every change to the extension's SQL objects since 0.1.0 is repeated here, in
-- the order it was made, so that an upgraded database ends with the same objects
-- as a fresh CREATE EXTENSION (tests/tests/pg_else_upgrade.rs compares both) and
-- keeps its data: day partitions, compacted blocks, settings, groups, writers,
-- web searches and GreyLSE state. Functions written in Rust keep their symbol
-- names; the new library serves the old definitions until this script runs.

-- issue 26: maintenance that runs by itself (sql/maintenance.sql).
-- What maintenance did, one row per step and run; kept for the retention.
CREATE TABLE maillog.maintenance_log (
    at     timestamptz NOT NULL DEFAULT now(),
    step   text        NOT NULL,   -- partitions, compact, purge, standby
    detail text        NOT NULL
);
CREATE INDEX maintenance_log_at ON maillog.maintenance_log (at);
SELECT pg_catalog.pg_extension_config_dump('maillog.maintenance_log', '');

-- One run: the next week's day partitions (ingest makes missing ones too, but
-- not during the first seconds of a busy midnight), then expired days purged,
-- then every closed day compacted (purging first: an expired day is dropped,
-- never packed only to be dropped). On a standby (nothing may be written)
-- it does nothing and says so: a scheduler that follows a failover can call it
-- everywhere. Each step is logged at LOG level and in maillog.maintenance_log.
CREATE FUNCTION maillog.maintain()
RETURNS TABLE (step text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    made int;
    packed text;
    dropped int;
    archived bigint;
BEGIN
    IF pg_is_in_recovery() THEN
        step := 'standby';
        detail := 'a standby: nothing done (maintenance runs on the primary)';
        RETURN NEXT;
        RETURN;
    END IF;
    made := maillog.ensure_partitions(now(), now() + interval '7 days');
    step := 'partitions';
    detail := format('%s day partitions made ahead (up to %s)', made,
                     ((now() + interval '7 days') AT TIME ZONE 'UTC')::date);
    RETURN NEXT;
    SELECT count(*) INTO archived FROM maillog.archive a
     WHERE a.day < ((now() - (SELECT retention FROM maillog.settings)) AT TIME ZONE 'UTC')::date;
    dropped := maillog.purge();
    step := 'purge';
    detail := format('%s day partitions and %s compacted blocks older than %s dropped', dropped, archived,
                     (SELECT retention FROM maillog.settings));
    RETURN NEXT;
    SELECT coalesce(string_agg(format('%s: %s lines in %s blocks', c.day, c.lines, c.blocks), ', '
                               ORDER BY c.day) FILTER (WHERE c.lines > 0), 'no closed day to compact')
      INTO packed FROM maillog.compact() c;
    step := 'compact';
    detail := packed;
    RETURN NEXT;
END $$;

-- The wrapper that logs: what a scheduler calls.
CREATE FUNCTION maillog.run_maintenance() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM maillog.maintain() LOOP
        RAISE LOG 'pg_else maintenance: %: %', r.step, r.detail;
        IF r.step <> 'standby' THEN
            INSERT INTO maillog.maintenance_log (step, detail) VALUES (r.step, r.detail);
        END IF;
    END LOOP;
    IF NOT pg_is_in_recovery() THEN
        DELETE FROM maillog.maintenance_log l
         WHERE l.at < now() - (SELECT retention FROM maillog.settings);
    END IF;
END $$;

-- The job's name in pg_cron.
CREATE FUNCTION maillog._maintenance_job() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT 'pg_else maintenance in ' || pg_catalog.current_database() $$;

-- Schedule maintenance with pg_cron (hourly by default, a cron expression in
-- UTC). pg_cron must be preloaded and created in this database
-- (shared_preload_libraries = 'pg_cron', cron.database_name = '<this database>',
-- CREATE EXTENSION pg_cron); the job runs as the role that calls this. Calling
-- it again replaces the schedule. Returns the job's id.
CREATE FUNCTION maillog.schedule_maintenance(schedule text DEFAULT '7 * * * *') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING HINT = 'apt install postgresql-15-cron; in postgresql.conf: shared_preload_libraries = ''pg_cron'''
                      || ' and cron.database_name = ''' || current_database() || '''; restart; then CREATE EXTENSION pg_cron';
    END IF;
    RETURN cron.schedule(maillog._maintenance_job(), schedule, 'SELECT maillog.run_maintenance()');
END $$;

-- Switch scheduled maintenance off. True when a job was removed.
CREATE FUNCTION maillog.unschedule_maintenance() RETURNS bool
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron')
       OR NOT EXISTS (SELECT FROM cron.job WHERE jobname = maillog._maintenance_job()) THEN
        RETURN false;
    END IF;
    RETURN cron.unschedule(maillog._maintenance_job());
END $$;
REVOKE ALL ON TABLE maillog.maintenance_log FROM PUBLIC;
GRANT SELECT ON TABLE maillog.maintenance_log TO else_admin;
REVOKE ALL ON FUNCTION maillog.maintain(), maillog.run_maintenance(), maillog._maintenance_job(),
    maillog.schedule_maintenance(text), maillog.unschedule_maintenance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maillog.maintain(), maillog.run_maintenance(),
    maillog.schedule_maintenance(text), maillog.unschedule_maintenance() TO else_admin;

-- issue 25: tenant privacy. Each recipient of a line naming several (amavis
-- `<a>,<b>`, Exchange `a;b`) is a search key, read from the line's text
-- (maillog._recipient_keys): an index on every day partition, recipient keys
-- in compacted blocks, the recipient lookup and the counting scope see them.
-- Lines stored before 0.2.0 keep their recipient column (an amavis list kept
-- `a>,<b` there) and are keyed by the new index from their text, like new
-- ones. The lines analysts count show other domains' recipients as
-- '<redacted>' (maillog._shown). (Redaction of raw lines and search rows is
-- Rust: maillog._trace and maillog._search keep their signatures.)
CREATE FUNCTION maillog."_recipient_keys"(
	"program" TEXT, /* &str */
	"msg" TEXT /* &str */
) RETURNS TEXT[] /* core::option::Option<alloc::vec::Vec<alloc::string::String>> */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_recipient_keys_wrapper';
CREATE FUNCTION maillog."_recipient_archive_keys"(
	"program" TEXT, /* &str */
	"msg" TEXT /* &str */
) RETURNS TEXT[] /* core::option::Option<alloc::vec::Vec<alloc::string::String>> */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_recipient_archive_keys_wrapper';

CREATE OR REPLACE FUNCTION maillog._index_partition(part text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('ALTER TABLE maillog.%I ADD CONSTRAINT %I PRIMARY KEY (at, uid)', part, part || '_key');
    -- A hash index for the queue ID, the key of almost every line: its lookups
    -- are equality only (qid = ANY), and a btree's insert was a fifth of ingest
    -- (300,000 lines: 2.29 s with it, 1.78 s without any qid index, 1.92-1.97 s
    -- with the hash index).
    EXECUTE format('CREATE INDEX %I ON maillog.%I USING hash (qid) WHERE qid IS NOT NULL', part || '_qid', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (link) INCLUDE (qid) WHERE link IS NOT NULL', part || '_link', part);
    -- Reversed addresses serve both exact matches and whole-domain ('@example.com') prefix scans.
    EXECUTE format('CREATE INDEX %I ON maillog.%I (reverse(rcpt) text_pattern_ops) WHERE rcpt IS NOT NULL', part || '_rcpt', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (reverse(orig_rcpt) text_pattern_ops) WHERE orig_rcpt IS NOT NULL', part || '_orig_rcpt', part);
    -- Lines naming several recipients (amavis, Exchange): every address and
    -- its @domain, read from the text (maillog._recipient_keys). Partial, so
    -- ingest parses only these lines again.
    EXECUTE format('CREATE INDEX %I ON maillog.%I USING gin (maillog._recipient_keys(program, msg)) WHERE kind IN (''amavis'', ''exchange'')', part || '_rcpt_list', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (reverse(sender) text_pattern_ops) WHERE sender IS NOT NULL', part || '_sender', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (msgid) WHERE msgid IS NOT NULL', part || '_msgid', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (client) WHERE client IS NOT NULL', part || '_client', part);
    EXECUTE format('CREATE INDEX %I ON maillog.%I (client_name) WHERE client_name IS NOT NULL', part || '_client_name', part);
END $$;

-- The new index on the existing day partitions (and line_outside): its
-- build reads the amavis and Exchange lines stored so far.
DO $$
DECLARE
    part text;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'maillog.line'::regclass
    LOOP
        EXECUTE pg_catalog.format('CREATE INDEX %I ON maillog.%I USING gin (maillog._recipient_keys(program, msg)) WHERE kind IN (''amavis'', ''exchange'')',
                                  part || '_rcpt_list', part);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION maillog.compact(after interval DEFAULT NULL)
RETURNS TABLE (day date, lines bigint, blocks bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    cutoff date := ((now() - coalesce(after, (SELECT compact_after FROM maillog.settings))) AT TIME ZONE 'UTC')::date;
    part record;
    attempt int;
BEGIN
    FOR part IN
        SELECT c.relname, to_date(substr(c.relname, 6), 'YYYYMMDD') AS d
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'maillog.line'::regclass AND c.relname ~ '^line_\d{8}$'
           AND to_date(substr(c.relname, 6), 'YYYYMMDD') + 1 <= cutoff
         ORDER BY c.relname
    LOOP
        EXECUTE format('LOCK TABLE maillog.%I IN SHARE ROW EXCLUSIVE MODE', part.relname);
        EXECUTE format($q$
            WITH n AS (
                SELECT l::maillog.line AS l,
                       (row_number() OVER (ORDER BY l.qid, l.host, l.at, l.uid) - 1) / 64 AS blk
                  FROM maillog.%I l),
            k AS (
                SELECT n.blk, array_agg(DISTINCT key) AS keys
                  FROM n, unnest(maillog._archive_keys((n.l).qid, (n.l).link, (n.l).sender, (n.l).rcpt,
                       (n.l).orig_rcpt, (n.l).msgid, (n.l).client, (n.l).client_name, (n.l).status)
                       -- (each address of a line naming several recipients: NULL adds none)
                       || CASE WHEN (n.l).kind IN ('amavis', 'exchange')
                               THEN maillog._recipient_archive_keys((n.l).program, (n.l).msg) END) key
                 GROUP BY n.blk),
            -- Counted as written: reading the day's blocks back would
            -- decompress all of them again.
            packed AS (
                INSERT INTO maillog.archive (day, first_at, last_at, keys, lines)
                SELECT %L, min((n.l).at), max((n.l).at), coalesce(max(k.keys), '{}'),
                       array_agg(n.l ORDER BY (n.l).qid, (n.l).host, (n.l).at, (n.l).uid)
                  FROM n LEFT JOIN k USING (blk) GROUP BY n.blk
                RETURNING cardinality(lines) AS size)
            SELECT count(*), coalesce(sum(size), 0) FROM packed$q$, part.relname, part.d)
            INTO blocks, lines;
        day := part.d;
        FOR attempt IN 1..50 LOOP
            BEGIN
                SET LOCAL lock_timeout = '200ms';
                EXECUTE format('DROP TABLE maillog.%I', part.relname);
                SET LOCAL lock_timeout = 0;
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                IF attempt = 50 THEN
                    RAISE EXCEPTION 'maillog.compact: % stays locked by other sessions', part.relname
                        USING HINT = 'run maillog.compact() again later';
                END IF;
                PERFORM pg_sleep(0.05 * attempt);
            END;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END $$;

-- Compacted blocks holding such lines get their recipients' keys, as
-- maillog.compact now writes them (distinct and sorted, as array_agg(DISTINCT)).
UPDATE maillog.archive a
   SET keys = ARRAY(SELECT DISTINCT k FROM unnest(a.keys || ARRAY(
                  SELECT r FROM unnest(a.lines) x, unnest(maillog._recipient_archive_keys(x.program, x.msg)) r
                   WHERE x.kind IN ('amavis', 'exchange'))) k ORDER BY k)
 WHERE EXISTS (SELECT FROM unnest(a.lines) x
                WHERE x.kind IN ('amavis', 'exchange') AND maillog._recipient_keys(x.program, x.msg) IS NOT NULL);

CREATE OR REPLACE FUNCTION maillog._find_recipient(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE (maillog._addr_is(l.rcpt, vals[1]) OR maillog._addr_is(l.orig_rcpt, vals[1])
            OR (l.kind IN ('amavis', 'exchange') AND maillog._recipient_keys(l.program, l.msg) @> vals[1:1]))
       AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['recipient', 'orig_recipient'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND (maillog._addr_match((a.l).rcpt, vals[1]) OR maillog._addr_match((a.l).orig_rcpt, vals[1])
            OR ((a.l).kind IN ('amavis', 'exchange') AND maillog._recipient_keys((a.l).program, (a.l).msg) @> vals[1:1]))
       AND maillog._within((a.l).at, lo, hi)
$$;

CREATE FUNCTION maillog._shown(addr text, host text, sc maillog.scope) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN addr IS NULL OR sc.admin OR host = ANY (sc.hosts) OR maillog._in_domains(addr, sc)
                THEN addr ELSE '<redacted>' END
$$;

CREATE FUNCTION maillog._list_in_domains(kind text, program text, msg text, sc maillog.scope) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT kind IN ('amavis', 'exchange')
       AND EXISTS (SELECT FROM unnest(maillog._recipient_keys(program, msg)) r
                    WHERE left(r, 1) <> '@' AND maillog._in_domains(r, sc))
$$;

CREATE OR REPLACE FUNCTION maillog._visible_lines(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
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

REVOKE ALL ON FUNCTION maillog._recipient_keys(text, text), maillog._recipient_archive_keys(text, text),
    maillog._shown(text, text, maillog.scope), maillog._list_in_domains(text, text, text, maillog.scope)
    FROM PUBLIC;
