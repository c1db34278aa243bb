-- The lookup: the one place that knows where lines live. A line stays in a day
-- partition of maillog.line (an index per search field) until compaction
-- packs its day into blocks of maillog.archive, found through the GIN index
-- over the blocks' keys and then checked line by line. Everything above asks
-- for "the lines whose FIELD is one of VALUES, logged in [lo, hi]" (a NULL
-- bound is none: its condition then folds away instead of costing planning)
-- (pg_else/src/query/spi.rs widens a journey's time by the field's window,
-- maillog_core::keys::Field::window_days).
--
-- One function per field, named maillog._find_<field> after the field's name
-- in the key vocabulary; the compacted keys come from maillog._probe. They
-- are plain SQL functions without SET clauses, so the planner inlines them
-- into the calling statement, where the values and bounds are constants: the
-- keys become index conditions and the bounds prune partitions and blocks.
-- (Planning one such lookup takes 0.7-0.9 ms at 2M lines, against 0.1 ms for
-- the same query written out: the planner parses an inlined body at every
-- call. That, not the lookup itself, is most of a small search's time.)

-- Archived lines one by one, with their block's bounds and keys for pruning.
CREATE VIEW maillog.archived AS
    SELECT a.day, a.first_at, a.last_at, a.keys, x AS l FROM maillog.archive a, unnest(a.lines) x;

-- Whether any compacted block may hold lines logged in [lo, hi] (NULL:
-- unbounded): a block holds one UTC day. The archive branch of each lookup
-- runs only then (a one-time filter), so a search of days not compacted
-- skips the GIN probe, whose cost grows with the number of keys even when no
-- block matches: 7 % of the busiest-mailbox search at 10M lines. PL/pgSQL,
-- so the lookups stay inlinable and its plan is kept for the session.
CREATE FUNCTION maillog._archive_has(lo timestamptz, hi timestamptz) RETURNS bool
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (A range on the day index, also in the session's generic plan.)
    RETURN EXISTS (SELECT FROM maillog.archive a
                    WHERE a.day BETWEEN coalesce((lo AT TIME ZONE 'UTC')::date, '-infinity')
                                    AND coalesce((hi AT TIME ZONE 'UTC')::date, 'infinity'));
END $$;

-- A line's time in [lo, hi], a NULL bound being none; inlined, so that with
-- constant bounds the planner sees `at >= lo AND at <= hi` (partition
-- pruning, index conditions) or nothing at all.
CREATE FUNCTION maillog._within(at timestamptz, lo timestamptz, hi timestamptz) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lo IS NULL OR at >= lo) AND (hi IS NULL OR at <= hi)
$$;
-- A compacted block [first_at, last_at] that may hold lines of [lo, hi].
CREATE FUNCTION maillog._overlaps(first_at timestamptz, last_at timestamptz, lo timestamptz, hi timestamptz) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lo IS NULL OR last_at >= lo) AND (hi IS NULL OR first_at <= hi)
$$;

-- Address matching on a stored address: exact, or a whole domain when the
-- pattern starts with '@'. Both sides in the stored form (lower-case, as
-- ingest stores addresses and as the pipeline passes patterns), as the day
-- partitions' `_addr_is` compares them: lower() of every line of every block
-- that names a busy mailbox was a tenth of its compacted search.
CREATE FUNCTION maillog._addr_match(addr text, pattern text) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(pattern, 1) = '@' THEN right(addr, length(pattern)) = pattern
                ELSE addr = pattern END
$$;
-- A LIKE pattern matching `prefix` literally at the start of a value.
CREATE FUNCTION maillog._like_prefix(prefix text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(replace(prefix, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- A stored address column matching `pattern` (stored forms are lower-case;
-- a '@domain' pattern is a prefix scan of the reversed-address index).
CREATE FUNCTION maillog._addr_is(col text, pattern text) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT col IS NOT NULL AND CASE WHEN left(pattern, 1) = '@' THEN reverse(col) LIKE maillog._like_prefix(reverse(pattern))
                                    ELSE reverse(col) = reverse(pattern) END
$$;

-- The lines whose queue ID is one of `vals`, logged in [lo, hi] (NULL: unbounded).
CREATE FUNCTION maillog._find_queue_id(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE l.qid = ANY (vals) AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['queue_id'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND (a.l).qid = ANY (vals) AND maillog._within((a.l).at, lo, hi)
$$;

-- The lines whose Message-ID is one of `vals`.
CREATE FUNCTION maillog._find_message_id(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE l.msgid = ANY (vals) AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['message_id'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND (a.l).msgid = ANY (vals) AND maillog._within((a.l).at, lo, hi)
$$;

-- The lines whose recipient or original recipient is `vals[1]` (a whole
-- domain as '@domain'), or that name it in a list of recipients (amavis,
-- Exchange: maillog._recipient_keys, indexed with the same predicate).
CREATE FUNCTION maillog._find_recipient(vals text[], lo timestamptz, hi timestamptz)
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

-- The lines whose sender is `vals[1]` (a whole domain as '@domain').
CREATE FUNCTION maillog._find_sender(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE maillog._addr_is(l.sender, vals[1]) AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['sender'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND maillog._addr_match((a.l).sender, vals[1]) AND maillog._within((a.l).at, lo, hi)
$$;

-- The lines whose client address or name is one of `vals`.
CREATE FUNCTION maillog._find_client(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE (l.client = ANY (vals) OR l.client_name = ANY (vals)) AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['client', 'client_name'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND ((a.l).client = ANY (vals) OR (a.l).client_name = ANY (vals)) AND maillog._within((a.l).at, lo, hi)
$$;

-- The lines whose stored status word is one of `vals` (maillog_core's
-- Status::stored_words).
CREATE FUNCTION maillog._find_status(vals text[], lo timestamptz, hi timestamptz)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM maillog.line l
     WHERE l.status = ANY (vals) AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['status'], vals) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND (a.l).status = ANY (vals) AND maillog._within((a.l).at, lo, hi)
$$;

-- The queue IDs of the lines that name one of `qids` as their next hop (the
-- link index carries the queue ID: an index-only probe), logged in [lo, hi] (NULL: unbounded).
CREATE FUNCTION maillog._find_link(qids text[], lo timestamptz, hi timestamptz)
RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT l.qid FROM maillog.line l
     WHERE l.link = ANY (qids) AND l.qid IS NOT NULL AND maillog._within(l.at, lo, hi)
    UNION ALL
    SELECT (a.l).qid FROM maillog.archived a
     WHERE maillog._archive_has(lo, hi) AND a.keys && maillog._probe(ARRAY['link'], qids) AND maillog._overlaps(a.first_at, a.last_at, lo, hi)
       AND (a.l).link = ANY (qids) AND (a.l).qid IS NOT NULL AND maillog._within((a.l).at, lo, hi)
$$;

-- The smtpd rejects that policy-server refusals caused (one refusal per
-- element: its recipient, client and time): same recipient and client, at
-- most 2 s apart (the correlator joins each pair into one attempt).
CREATE FUNCTION maillog._policy_rejects(rcpts text[], clients text[], ats timestamptz[])
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM unnest(rcpts, clients, ats) p(rcpt, client, at) JOIN maillog.line l
        ON reverse(l.rcpt) = reverse(p.rcpt) AND l.kind = 'reject' AND l.client = p.client
       AND l.at BETWEEN p.at - interval '2 seconds' AND p.at + interval '2 seconds'
    UNION ALL
    SELECT (a.l).* FROM unnest(rcpts, clients, ats) p(rcpt, client, at) JOIN maillog.archived a
        ON a.keys && maillog._probe(ARRAY['recipient'], ARRAY[p.rcpt])
       AND a.last_at >= p.at - interval '2 seconds' AND a.first_at <= p.at + interval '2 seconds'
       AND (a.l).rcpt = p.rcpt AND (a.l).kind = 'reject' AND (a.l).client = p.client
       AND (a.l).at BETWEEN p.at - interval '2 seconds' AND p.at + interval '2 seconds'
$$;

-- With no selective filter: the newest `n` lines of queue entries and
-- refusals in [since, until] (any line, so journeys whose start was not
-- logged count too); compacted days newest first, only as far as needed.
CREATE FUNCTION maillog._recent(since timestamptz, until timestamptz, on_host text, n int)
RETURNS SETOF maillog.line
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
SET jit = off SET enable_seqscan = off AS $$
DECLARE
    got maillog.line[];
    d date;
BEGIN
    got := ARRAY(SELECT l FROM maillog.line l
                  WHERE (l.qid IS NOT NULL OR l.kind IN ('reject', 'policy'))
                    AND l.at >= since AND l.at <= until
                    AND (on_host IS NULL OR l.host = on_host)
                  ORDER BY l.at DESC LIMIT n);
    FOR d IN SELECT DISTINCT a.day FROM maillog.archive a WHERE a.last_at >= since AND a.first_at <= until ORDER BY 1 DESC LOOP
        EXIT WHEN cardinality(got) >= n;
        got := got || ARRAY(
            SELECT a.l FROM maillog.archived a
             WHERE a.day = d AND ((a.l).qid IS NOT NULL OR (a.l).kind IN ('reject', 'policy'))
               AND (a.l).at >= since AND (a.l).at <= until
               AND (on_host IS NULL OR (a.l).host = on_host)
             ORDER BY (a.l).at DESC LIMIT n - cardinality(got));
    END LOOP;
    RETURN QUERY SELECT * FROM unnest(got);
END $$;

-- Every line in a time window, from the day partitions and the compacted
-- days: what the totals read. (Inlined by the planner, so partitions and
-- blocks outside the window are skipped.)
CREATE FUNCTION maillog.lines(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF maillog.line
LANGUAGE sql STABLE AS $$
    SELECT * FROM maillog.line
     WHERE at >= coalesce(since, '-infinity') AND at <= coalesce(until, 'infinity')
    UNION ALL
    SELECT (a.l).* FROM maillog.archived a
     WHERE a.last_at >= coalesce(since, '-infinity') AND a.first_at <= coalesce(until, 'infinity')
       AND (a.l).at >= coalesce(since, '-infinity') AND (a.l).at <= coalesce(until, 'infinity')
$$;
