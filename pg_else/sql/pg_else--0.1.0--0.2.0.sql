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
