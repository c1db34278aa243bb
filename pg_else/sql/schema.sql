-- pg_else storage and ingest. Loaded by CREATE EXTENSION after the Rust functions.

-- Settings a DBA may change: UPDATE maillog.settings SET retention = '30 days';
CREATE TABLE maillog.settings (
    singleton bool PRIMARY KEY DEFAULT true CHECK (singleton),
    retention interval NOT NULL DEFAULT '90 days',
    -- maillog.compact() packs days that ended at least this long ago.
    compact_after interval NOT NULL DEFAULT '1 day'
);
-- One row; a row inserted replaces it. pg_dump saves the row, and a restore
-- (CREATE EXTENSION inserts the defaults, then the saved row is copied in)
-- thus ends with the saved settings instead of a duplicate-key error.
CREATE FUNCTION maillog._settings_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM maillog.settings;
    RETURN NEW;
END $$;
CREATE TRIGGER settings_replace BEFORE INSERT ON maillog.settings
    FOR EACH ROW EXECUTE FUNCTION maillog._settings_replace();
INSERT INTO maillog.settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('maillog.settings', '');

-- Every line ever received, parsed once at ingest. Partitioned by UTC day so that
-- purging is dropping partitions. The sparse search keys (sender .. size) are set
-- only on the lines that carry them, lower-cased where matching is case-blind.
-- The identity key and the search indexes are made on each day partition
-- (maillog._index_partition), not on this table: the partitions are not members
-- of the extension, so pg_dump saves them with their indexes, and a restore
-- attaches them to the table CREATE EXTENSION made. Indexes declared here would
-- be created again on every partition by that attach, and the saved ones would
-- then fail as duplicates.
CREATE TABLE maillog.line (
    at          timestamptz NOT NULL,
    uid         uuid        NOT NULL,   -- line identity: see README "Line identity"
    host        text        NOT NULL,
    program     text        NOT NULL,
    pid         int,
    qid         text,
    kind        text        NOT NULL,
    status      text,
    sender      text,
    rcpt        text,
    orig_rcpt   text,
    msgid       text,
    client      text,
    client_name text,
    link        text,
    size        bigint,
    msg         text        NOT NULL,
    writer      int                     -- maillog.writers: the role (and RELP peer) that added the line
) PARTITION BY RANGE (at);

-- Who wrote lines (attribution): a small id per line instead of a name, so a
-- forged line can be traced to its writer role and removed. `peer` is the
-- address of the sender that handed the line to the RELP backend ('' when
-- the writer did not say, e.g. else-load). Names, not OIDs: a dump restores
-- into another cluster.
CREATE TABLE maillog.writers (
    id   int  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role name NOT NULL,
    peer text NOT NULL DEFAULT '',
    UNIQUE (role, peer)
);
SELECT pg_catalog.pg_extension_config_dump('maillog.writers', '');

-- The identity key (at, uid) — a line whose identity is stored is skipped by the
-- ingest (_inbox_flush), through the unique index of the partition a row goes
-- to — and the search indexes of one day partition.
CREATE FUNCTION maillog._index_partition(part text) RETURNS void
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

-- Which UTC days get a partition of their own: from the retention cutoff (the
-- first day purge keeps) to tomorrow. A line dated outside — older than the
-- retention, or more than a day ahead (clock errors, forged times, years 1970 or
-- 9999) — goes to the one partition maillog.line_outside, so no load can create
-- a partition per day. Raise the retention before loading an old archive.
CREATE FUNCTION maillog._day_in_range(d date) RETURNS bool
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d >= ((now() - (SELECT retention FROM maillog.settings)) AT TIME ZONE 'UTC')::date
       AND d <= (now() AT TIME ZONE 'UTC')::date + 1
$$;

-- The out-of-range lines (the DEFAULT partition: whatever no day partition
-- holds), stored, counted and found like all others. It belongs to the
-- extension; pg_dump saves its rows as configuration data.
CREATE TABLE maillog.line_outside PARTITION OF maillog.line DEFAULT;
SELECT maillog._index_partition('line_outside');
SELECT pg_catalog.pg_extension_config_dump('maillog.line_outside', '');

-- During ingest (maillog.ingesting set by the inbox trigger), a line that falls
-- here only because its in-range day has no partition yet is refused with
-- check_violation, as if there were no default partition: the inbox trigger
-- then creates the day and stores the batch again. Restores and direct inserts
-- are left alone.
CREATE FUNCTION maillog._outside_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('maillog.ingesting', true) = 'on'
       AND maillog._day_in_range((NEW.at AT TIME ZONE 'UTC')::date) THEN
        RAISE EXCEPTION 'no partition of maillog.line for %', NEW.at USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outside_check BEFORE INSERT ON maillog.line_outside
    FOR EACH ROW EXECUTE FUNCTION maillog._outside_check();

-- The one entry point. omelse COPYs (uid, at, host, tag, msg); a DBA loads raw lines
-- into (line). Rows live here only inside the loading transaction: the statement
-- trigger moves them into maillog.line, so the table is UNLOGGED (no WAL twice).
CREATE UNLOGGED TABLE maillog.inbox (
    line text,
    uid  uuid,          -- omelse: rsyslog's per-message UUID (the line's identity)
    at   timestamptz,
    host text,
    tag  text,
    msg  text
) WITH (autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_scale_factor = 0);
GRANT INSERT ON maillog.inbox TO PUBLIC;

-- Daily partitions [day, day+1) in UTC, named line_YYYYMMDD. Attached with
-- ATTACH PARTITION, which takes only SHARE UPDATE EXCLUSIVE on maillog.line, so
-- concurrent writers and readers are never blocked, while two creators of the
-- same day are serialised.
CREATE FUNCTION maillog.ensure_partitions(days date[]) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d date;
    made int := 0;
    part text;
BEGIN
    FOR d IN SELECT DISTINCT x FROM unnest(days) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        part := 'line_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('maillog.' || part) IS NOT NULL;
        -- Self-conflicting but compatible with inserts and reads; taking a
        -- relation lock also refreshes the catalog, so the re-check sees a
        -- partition that a concurrent creator just committed.
        LOCK TABLE maillog.line IN SHARE UPDATE EXCLUSIVE MODE;
        CONTINUE WHEN to_regclass('maillog.' || part) IS NOT NULL;
        EXECUTE format('CREATE TABLE maillog.%I (LIKE maillog.line INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        PERFORM maillog._index_partition(part);
        -- Lines of this day stored while it was out of range (e.g. dated ahead)
        -- move in: the default partition may not hold rows of an attached range.
        EXECUTE format('WITH m AS (DELETE FROM maillog.line_outside WHERE at >= %L AND at < %L RETURNING *)
                        INSERT INTO maillog.%I SELECT * FROM m',
                       d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00', part);
        EXECUTE format('ALTER TABLE maillog.line ATTACH PARTITION maillog.%I FOR VALUES FROM (%L) TO (%L)',
                       part, d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

-- Closed days, compacted (maillog.compact): a day's lines in blocks of 64
-- rows, each block one lz4-compressed array (PostgreSQL never compresses a
-- single short row; the 10M-line benchmark packs 2.4x smaller, indexes
-- included), found by the search
-- keys of its lines through a GIN index. Lines are ordered by queue ID in a
-- day, so a queue entry's lines share a block and a lookup opens few blocks.
-- An address's lines are spread over as many blocks as it has lines, each
-- block unpacked whole: blocks of 64 rather than 200 lines made the busiest
-- mailbox's compacted search 1.7x faster (520 -> 313 ms at 10M lines) for
-- 13 % more space (1,298 MB against 1,147 MB); compacted p95 over 100 keys
-- each: recipient 7.7 -> 5.4 ms, sender 3.3 -> 2.6, Message-ID 2.2 -> 2.0,
-- trace 3.3 -> 3.1.
CREATE TABLE maillog.archive (
    day   date        NOT NULL,
    first_at timestamptz NOT NULL,   -- first and last line of the block
    last_at  timestamptz NOT NULL,
    keys  text[]      NOT NULL,   -- maillog._archive_keys of every line, distinct
    lines maillog.line[] NOT NULL
);
ALTER TABLE maillog.archive ALTER COLUMN lines SET COMPRESSION lz4;
CREATE INDEX archive_keys ON maillog.archive USING gin (keys);
CREATE INDEX archive_day ON maillog.archive (day);
-- Its rows are the data of compacted days: pg_dump saves them.
SELECT pg_catalog.pg_extension_config_dump('maillog.archive', '');

-- For a DBA who wants days ready in advance: SELECT maillog.ensure_partitions(now(), now() + '7 days').
CREATE FUNCTION maillog.ensure_partitions(lo timestamptz, hi timestamptz) RETURNS int
LANGUAGE sql AS $$
    SELECT maillog.ensure_partitions(ARRAY(
        SELECT generate_series((lo AT TIME ZONE 'UTC')::date, (hi AT TIME ZONE 'UTC')::date, '1 day')::date))
$$;

-- Set-based ingest. The row trigger inbox_take (pg_else/src/inbox.rs) keeps
-- each inserted row in this backend's memory instead of the inbox heap (past
-- 64 MB in one statement, rows go to the heap and this trigger reads them from
-- its transition table `batch`). Then, once per statement: parse the rows in
-- calls of 10,000 (arrays stay far below PostgreSQL's 1 GB limit even for a
-- multi-GB \copy) and store them with one INSERT ... SELECT that skips lines
-- already stored (same identity); forget the taken rows, and delete the heap
-- ones. Only this transaction's rows are visible to the DELETE: other writers'
-- are uncommitted, and committed ones were already deleted by their own
-- transaction.
CREATE FUNCTION maillog._inbox_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- The taken rows, chunk by chunk.
    from_taken CONSTANT text := $q$
        SELECT p.* FROM generate_series(0, %s - 1) c,
                        LATERAL maillog._ingest(NULL, NULL, NULL, NULL, NULL, NULL, taken => c) p$q$;
    -- The heap rows, in arrival order (the transition table is visible to
    -- dynamic SQL in this trigger).
    from_batch CONSTANT text := $q$
        SELECT p.* FROM (SELECT array_agg(line ORDER BY n) l, array_agg(uid ORDER BY n) u,
                                array_agg(at ORDER BY n) a, array_agg(host ORDER BY n) h,
                                array_agg(tag ORDER BY n) t, array_agg(msg ORDER BY n) m
                           FROM (SELECT row_number() OVER () AS n, * FROM batch) x
                          GROUP BY (n - 1) / 10000) b,
                        LATERAL maillog._ingest(b.l, b.u, b.a, b.h, b.t, b.m) p$q$;
    -- Raw lines are inserted in key order: two writers storing the same raw
    -- lines (a file loaded twice at once) then wait for each other in one
    -- order and cannot deadlock (seen with identical lines in concurrent
    -- batches). omelse's rows carry rsyslog's unique UUIDs, which concurrent
    -- batches never share, so they skip that sort.
    parsed CONSTANT text := $q$
        SELECT p.at, p.uid, p.host, p.program, p.pid, p.qid, p.kind, p.status, p.sender, p.rcpt,
               p.orig_rcpt, p.msgid, p.client, p.client_name, p.link, p.size, p.msg, w.id AS writer
          FROM (%s) p
          LEFT JOIN maillog.writers w ON w.role = %L AND w.peer = p.peer$q$;
    -- The role in effect for the insert (SET ROLE, else the login role):
    -- current_user is this function's owner here.
    me name := CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role') END;
    chunks int;
    raw bool;
    peers text[];
    spilled bool := EXISTS (SELECT FROM batch);
    source text;
    store text;
    skip text := '';
    made bool := false;
    days date[];
    stored bigint := 0;
BEGIN
    SELECT t.chunks, t.raw, t.peers INTO chunks, raw, peers FROM maillog._inbox_taken() t;
    source := concat_ws(' UNION ALL ', CASE WHEN chunks > 0 THEN format(from_taken, chunks) END,
                                       CASE WHEN spilled THEN from_batch END);
    IF source <> '' THEN
        -- The (role, peer) pairs of this statement, added once (the row
        -- trigger lists the peers of all its rows, by ingest.rs's `peer`). A
        -- pair the parser then does not use costs one unused row, never a
        -- wrong one. (Most batches name no peer and come from a known role:
        -- then one probe instead of the insert, about 3 % of the server time
        -- of an omelse batch.)
        IF peers <> ARRAY[''] OR NOT EXISTS (SELECT 1 FROM maillog.writers w WHERE w.role = me AND w.peer = '') THEN
            INSERT INTO maillog.writers (role, peer)
                SELECT me, p.peer FROM unnest(peers) p(peer)
                 WHERE NOT EXISTS (SELECT 1 FROM maillog.writers w WHERE w.role = me AND w.peer = p.peer)
                ON CONFLICT DO NOTHING;
        END IF;
        store := 'INSERT INTO maillog.line (at, uid, host, program, pid, qid, kind, status, sender,
                    rcpt, orig_rcpt, msgid, client, client_name, link, size, msg, writer) '
                 || format(parsed, source, me)
                 || CASE WHEN raw THEN ' ORDER BY 1, 2' ELSE '' END;
        PERFORM set_config('maillog.ingesting', 'on', true);
        -- First as a plain INSERT: nearly every batch is stored for the first
        -- time, and ON CONFLICT's speculative insertion (a probe of the identity
        -- key before each row) cost a seventh of ingest (0.5 of 3.5 s for 300,000
        -- lines). A batch holding a line already stored (a resend, a file loaded
        -- again) fails on the identity key and is stored again skipping those;
        -- each try is a subtransaction of its own, so it numbers identical lines
        -- from the start (see _ingest).
        LOOP
            BEGIN
                EXECUTE store || skip;
                GET DIAGNOSTICS stored = ROW_COUNT;
                EXIT;
            EXCEPTION
                WHEN unique_violation THEN
                    IF skip <> '' THEN RAISE; END IF;
                    skip := ' ON CONFLICT DO NOTHING';
                WHEN check_violation THEN
                    -- A line of an in-range day without partition (see
                    -- _outside_check): create the days this batch needs (and the
                    -- day after its last, so that midnight does not pay this
                    -- again); out-of-range days get none.
                    IF made THEN RAISE; END IF;
                    made := true;
                    EXECUTE 'SELECT array_agg(DISTINCT (at AT TIME ZONE ''UTC'')::date) FROM (' || format(parsed, source, me) || ') d' INTO days;
                    PERFORM maillog.ensure_partitions(ARRAY(
                        SELECT x FROM unnest(days || (SELECT max(x) + 1 FROM unnest(days) x)) x
                         WHERE maillog._day_in_range(x)));
            END;
        END LOOP;
        PERFORM set_config('maillog.ingesting', 'off', true);
    END IF;
    -- Lines stored anew in this transaction (else-load reports it; a reload shows 0).
    PERFORM set_config('maillog.lines_stored',
        (coalesce(nullif(current_setting('maillog.lines_stored', true), '')::int8, 0) + stored)::text, true);
    PERFORM maillog._inbox_clear();
    IF spilled THEN
        DELETE FROM maillog.inbox;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER inbox_take BEFORE INSERT ON maillog.inbox
    FOR EACH ROW EXECUTE FUNCTION maillog._inbox_take();
CREATE TRIGGER inbox_flush AFTER INSERT ON maillog.inbox
    REFERENCING NEW TABLE AS batch FOR EACH STATEMENT EXECUTE FUNCTION maillog._inbox_flush();

-- Compaction: each day partition that ended at least `after` ago (default:
-- the compact_after setting) becomes blocks of maillog.archive and is dropped.
-- Writers of other days are not blocked; a line arriving late for the day being
-- packed waits until it is done (the partition is share-locked), and one
-- arriving later lands in a fresh partition of that day (answers include both;
-- a re-sent batch of such a day is then no longer recognised, see README). The
-- DROP takes maillog.line's exclusive lock for a moment, with purge's
-- 200 ms lock timeout and retries. Run it daily from cron, like purge.
CREATE FUNCTION maillog.compact(after interval DEFAULT NULL)
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

-- Retention: drop whole day partitions older than `older_than` (default: the
-- retention setting). DROP needs a short exclusive lock on maillog.line; a low
-- lock_timeout with retries means ingest waits at most that long, never behind a
-- long queue.
CREATE FUNCTION maillog.purge(older_than interval DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms' AS $$
DECLARE
    cutoff date := ((now() - coalesce(older_than, (SELECT retention FROM maillog.settings))) AT TIME ZONE 'UTC')::date;
    part record;
    dropped int := 0;
    attempt int;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'maillog.line'::regclass AND c.relname ~ '^line_\d{8}$'
           AND to_date(substr(c.relname, 6), 'YYYYMMDD') < cutoff
         ORDER BY c.relname
    LOOP
        FOR attempt IN 1..50 LOOP
            BEGIN
                EXECUTE format('DROP TABLE maillog.%I', part.relname);
                dropped := dropped + 1;
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                PERFORM pg_sleep(0.05 * attempt);
            END;
        END LOOP;
    END LOOP;
    DELETE FROM maillog.archive a WHERE a.day < cutoff;
    -- Out-of-range lines older than the cutoff; those dated ahead stay until
    -- their day has passed the retention like any other.
    DELETE FROM maillog.line_outside o WHERE o.at < (cutoff::text || ' 00:00:00+00')::timestamptz;
    RETURN dropped;
END $$;
