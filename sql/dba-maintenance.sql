-- ELSE: maintenance for DBAs. Run pieces as needed (psql -d maillog).

-- Partitions ahead, compaction and purge on a schedule inside PostgreSQL, with
-- pg_cron preloaded and created in this database (docs/maintenance.md):
--   SELECT maillog.schedule_maintenance();       -- hourly; '30 2 * * *' for daily
--   SELECT * FROM maillog.maintenance_log ORDER BY at DESC LIMIT 20;
--   SELECT maillog.unschedule_maintenance();     -- off
SELECT * FROM maillog.maintain();                -- one run by hand, step by step

-- Retention: the default is 90 days (scheduled maintenance purges; by hand:)
UPDATE maillog.settings SET retention = interval '90 days';
SELECT maillog.purge();                          -- days older than the retention
-- SELECT maillog.purge(interval '30 days');     -- or an explicit age

-- Compaction: closed days (by default those that ended at least a day ago) are
-- packed into compressed blocks of maillog.archive: 2.4x smaller on the
-- 10M-line benchmark (about the size of the raw text); answers stay the same.
-- Scheduled maintenance compacts before it purges; by hand:
UPDATE maillog.settings SET compact_after = interval '1 day';
SELECT * FROM maillog.compact();                 -- (day, lines, blocks) per packed day

-- Compacted days and their size.
SELECT day, count(*) AS blocks, pg_size_pretty(sum(pg_column_size(lines))) AS compressed
  FROM maillog.archive GROUP BY day ORDER BY day;

-- Create the next week's partitions ahead of time (ingest also creates them on demand).
SELECT maillog.ensure_partitions(now(), now() + interval '7 days');

-- Size per day and in total, against the raw text it came from.
SELECT c.relname AS day, pg_size_pretty(pg_total_relation_size(c.oid)) AS size,
       (SELECT count(*) FROM maillog.line l WHERE l.tableoid = c.oid) AS lines
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'maillog.line'::regclass ORDER BY 1;

-- Logins get their rights from the extension's roles (README "Access"); nothing
-- is granted to PUBLIC, and analysts read no table directly, only the API.
-- CREATE ROLE rsyslog LOGIN PASSWORD '...' IN ROLE else_writer;    -- omelse, else-load: INSERT/COPY into maillog.inbox only
-- CREATE ROLE helpdesk LOGIN PASSWORD '...' IN ROLE else_analyst;  -- search, trace, summary, ... (scoped by their groups)
-- CREATE ROLE mailadmin LOGIN PASSWORD '...' IN ROLE else_admin;   -- maintenance, settings, groups, every line

-- Load an existing log file byte-faithfully (see README, "Loading existing log files"):
-- \copy maillog.inbox (line) FROM '/var/log/mail.log' WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')
