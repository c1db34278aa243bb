-- Who may do what (README "Access"). Nothing is granted to PUBLIC; three
-- NOLOGIN roles carry the rights and a DBA grants them to people:
--   else_writer   adds lines: INSERT (COPY) into maillog.inbox, nothing else
--   else_analyst  the analyst API (search, trace, summary, per_hour, top,
--                 kinds, parse, format_line); no table is readable directly:
--                 the API functions run as their owner (SECURITY DEFINER,
--                 search_path pinned) and answer only what they compute
--   else_admin    both, plus maintenance (purge, compact, ensure_partitions,
--                 lines), the settings, the groups and reading every table;
--                 sees every line (analysts see their groups', api.sql)
-- Roles are cluster-wide and outlive the extension; created only if missing.
-- Runs last (finalize): it also covers the functions pgrx generates.

REVOKE ALL ON SCHEMA maillog FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA maillog FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA maillog FROM PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    -- greylse_daemon and greylse_admin: GreyLSE's (greylse.sql, below).
    FOREACH r IN ARRAY ARRAY['else_writer', 'else_analyst', 'else_admin', 'greylse_daemon', 'greylse_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA maillog TO else_writer, else_analyst, else_admin;

GRANT INSERT ON maillog.inbox TO else_writer;

GRANT EXECUTE ON FUNCTION
    maillog.search(text, text, timestamptz, timestamptz, text, text, text, text, int, text),
    maillog.trace(text),
    maillog.summary(timestamptz, timestamptz),
    maillog.per_hour(timestamptz, timestamptz),
    maillog.top(text, timestamptz, timestamptz, int),
    maillog._kinds(),
    maillog.parse(text),
    maillog.format_line(timestamptz, text, text, int, text)
    TO else_analyst;
GRANT SELECT ON maillog.kinds TO else_analyst;
-- The web UI's "My searches": each person reads and writes only their own
-- rows (row-level security in web.sql), admins included.
GRANT SELECT, INSERT, DELETE ON maillog.web_searches TO else_analyst;

GRANT else_writer, else_analyst TO else_admin;
GRANT EXECUTE ON FUNCTION
    maillog.purge(interval),
    maillog.compact(interval),
    maillog.ensure_partitions(date[]),
    maillog.ensure_partitions(timestamptz, timestamptz),
    maillog.lines(timestamptz, timestamptz),
    maillog.maintain(),
    maillog.run_maintenance(),
    maillog.schedule_maintenance(text),
    maillog.unschedule_maintenance()
    TO else_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA maillog TO else_admin;
GRANT DELETE ON maillog.line TO else_admin;     -- e.g. forged lines, by writer
GRANT INSERT, UPDATE, DELETE ON maillog.settings, maillog.groups, maillog.group_roles,
    maillog.group_hosts, maillog.group_domains TO else_admin;

-- GreyLSE (greylse.sql): the daemon's role decides and registers; admins
-- (else_admin, or a dedicated greylse_admin) manage lists and triplets.
REVOKE ALL ON SCHEMA greylse FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA greylse FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA greylse FROM PUBLIC;
GRANT USAGE ON SCHEMA greylse TO greylse_daemon, greylse_admin;
GRANT EXECUTE ON FUNCTION
    greylse.decide(inet, text, text, text, int, int, int, int, int, int),
    greylse.decide_many(inet[], text[], text[], text[], int, int, int, int, int, int),
    greylse.expire(int, int, int),
    greylse.hello(text, jsonb)
    TO greylse_daemon;
GRANT EXECUTE ON FUNCTION
    greylse.add(text, text, text, interval, text),
    greylse.remove(bigint),
    greylse.remove(text, text, text),
    greylse.expire_entry(bigint, timestamptz),
    greylse.entries(text),
    greylse.triplet(inet, text, text),
    greylse.clear_triplet(inet, text, text),
    greylse.settings(),
    greylse.counts(timestamptz, timestamptz)
    TO greylse_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA greylse TO greylse_admin;
GRANT greylse_admin TO else_admin;
