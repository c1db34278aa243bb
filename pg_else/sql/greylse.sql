-- GreyLSE's state (README "GreyLSE"): white/black lists, greylisting triplets,
-- the auto-whitelist and the running daemons' settings, in schema greylse.
-- The daemon (greylse/) calls greylse.decide() once per RCPT TO: one round
-- trip, one statement per table, so concurrent smtpd processes never wait on
-- each other except on the same triplet. Access (access.sql): the daemon's
-- role is a member of greylse_daemon, admins of greylse_admin.

CREATE SCHEMA greylse;

-- White and black list entries. `value` is stored lower-case: a client
-- network (CIDR), a client host name or a domain (the name and every name
-- below it), a sender or recipient address (`user@domain`) or domain.
CREATE TABLE greylse.lists (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list     text        NOT NULL CHECK (list IN ('white', 'black')),
    kind     text        NOT NULL CHECK (kind IN ('client', 'client_name', 'sender', 'recipient')),
    value    text        NOT NULL,
    net      cidr        CHECK ((kind = 'client') = (net IS NOT NULL)),
    expires  timestamptz,
    comment  text        NOT NULL DEFAULT '',
    added    timestamptz NOT NULL DEFAULT now(),
    added_by name        NOT NULL DEFAULT session_user,
    UNIQUE (list, kind, value)
);
CREATE INDEX lists_net ON greylse.lists USING gist (net inet_ops) WHERE net IS NOT NULL;
CREATE INDEX lists_value ON greylse.lists (kind, value);
SELECT pg_catalog.pg_extension_config_dump('greylse.lists', '');

-- One row per (client network, sender, recipient) seen. `passed` is set by
-- the first retry after the delay and within the retry window.
CREATE TABLE greylse.triplets (
    net        cidr        NOT NULL,
    sender     text        NOT NULL,
    rcpt       text        NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    passed     timestamptz,
    attempts   int         NOT NULL DEFAULT 1,
    PRIMARY KEY (net, sender, rcpt)
) WITH (fillfactor = 80);
CREATE INDEX triplets_last_seen ON greylse.triplets (last_seen);

-- Auto-whitelist: a client network and sender domain that passed
-- greylisting `passes` times is let through at once for a lifetime.
CREATE TABLE greylse.awl (
    net       cidr        NOT NULL,
    domain    text        NOT NULL,
    passes    int         NOT NULL DEFAULT 1,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (net, domain)
) WITH (fillfactor = 80);
CREATE INDEX awl_last_seen ON greylse.awl (last_seen);

-- Each running daemon says hello with its settings (from its TOML file).
CREATE TABLE greylse.instances (
    instance  text        PRIMARY KEY,
    settings  jsonb       NOT NULL,
    started   timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
);

-- The decision for one request (sender and recipient already normalised by
-- the daemon; client masked here). verdict:
--   black / white   a list entry (detail names it)
--   awl             auto-whitelisted client network and sender domain
--   new             first attempt (or after the retry window): defer `remaining` s
--   early           retried before the delay: defer `remaining` s
--   passed          first retry after the delay: accepted, counts for the AWL
--   known           a triplet that passed before: accepted, counts for the AWL
CREATE FUNCTION greylse.decide(client inet, client_name text, sender text, rcpt text,
    delay int, retry_window int, awl_passes int, awl_lifetime int, prefix4 int, prefix6 int,
    OUT verdict text, OUT detail text, OUT remaining int)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    n cidr := network(set_masklen(decide.client, CASE family(decide.client) WHEN 4 THEN prefix4 ELSE prefix6 END));
    sdomain text := coalesce(nullif(split_part(decide.sender, '@', 2), ''), decide.sender);
    -- What list entries can name: the host name and the names above it; the
    -- address, its domain and the domains above it.
    name_sfx text[] := maillog._domain_suffixes(coalesce(decide.client_name, ''));
    sender_keys text[] := decide.sender || maillog._domain_suffixes(split_part(decide.sender, '@', 2));
    rcpt_keys text[] := decide.rcpt || maillog._domain_suffixes(split_part(decide.rcpt, '@', 2));
    t greylse.triplets;
    fresh boolean;
BEGIN
    -- The list entry that applies, black before white: one index lookup per
    -- kind (inline and with generic plans: PL/pgSQL keeps them; replanning
    -- per call cost 0.1 ms, and a generic plan of one OR query scanned the list).
    SELECT x.list, x.entry INTO verdict, detail FROM (
        SELECT l.list, l.id, l.kind || ' ' || l.value AS entry FROM greylse.lists l
         WHERE l.kind = 'client' AND l.net >>= decide.client
           AND (l.expires IS NULL OR l.expires > now())
        UNION ALL
        SELECT l.list, l.id, l.kind || ' ' || l.value FROM greylse.lists l
         WHERE l.kind = 'client_name' AND l.value = ANY (name_sfx)
           AND (l.expires IS NULL OR l.expires > now())
        UNION ALL
        SELECT l.list, l.id, l.kind || ' ' || l.value FROM greylse.lists l
         WHERE l.kind = 'sender' AND l.value = ANY (sender_keys)
           AND (l.expires IS NULL OR l.expires > now())
        UNION ALL
        SELECT l.list, l.id, l.kind || ' ' || l.value FROM greylse.lists l
         WHERE l.kind = 'recipient' AND l.value = ANY (rcpt_keys)
           AND (l.expires IS NULL OR l.expires > now())) x
     ORDER BY x.list = 'black' DESC, x.id
     LIMIT 1;
    IF verdict IS NOT NULL THEN
        remaining := 0;
        RETURN;
    END IF;
    -- Auto-whitelist: touched at most once an hour, so a busy sender costs no write.
    UPDATE greylse.awl a SET last_seen = now()
     WHERE a.net = n AND a.domain = sdomain AND a.passes >= awl_passes
       AND a.last_seen > now() - make_interval(secs => awl_lifetime)
       AND a.last_seen < now() - interval '1 hour';
    IF FOUND OR EXISTS (SELECT 1 FROM greylse.awl a WHERE a.net = n AND a.domain = sdomain
                         AND a.passes >= awl_passes
                         AND a.last_seen > now() - make_interval(secs => awl_lifetime)) THEN
        verdict := 'awl'; detail := n::text || ' ' || sdomain; remaining := 0;
        RETURN;
    END IF;
    INSERT INTO greylse.triplets AS x (net, sender, rcpt, first_seen, last_seen)
    VALUES (n, decide.sender, decide.rcpt, now(), now())
    ON CONFLICT (net, sender, rcpt) DO UPDATE SET
        last_seen = now(),
        attempts = x.attempts + 1,
        first_seen = CASE WHEN x.passed IS NULL AND now() - x.first_seen > make_interval(secs => retry_window)
                          THEN now() ELSE x.first_seen END,
        passed = CASE WHEN x.passed IS NULL
                       AND now() - x.first_seen >= make_interval(secs => delay)
                       AND now() - x.first_seen <= make_interval(secs => retry_window)
                      THEN now() ELSE x.passed END
    RETURNING x.* INTO t;
    fresh := t.attempts = 1 OR (t.first_seen = now() AND t.passed IS NULL);
    detail := n::text;
    IF t.passed IS NOT NULL THEN
        verdict := CASE WHEN t.passed = now() THEN 'passed' ELSE 'known' END;
        remaining := 0;
        INSERT INTO greylse.awl AS a (net, domain, last_seen) VALUES (n, sdomain, now())
        ON CONFLICT (net, domain) DO UPDATE SET passes = a.passes + 1, last_seen = now();
    ELSIF fresh THEN
        verdict := 'new'; remaining := delay;
    ELSE
        verdict := 'early';
        remaining := greatest(1, ceil(delay - extract(epoch FROM now() - t.first_seen))::int);
    END IF;
END $$;

-- Many decisions in one call (the daemon batches concurrent requests): the
-- verdicts in the order of the arrays, n = position.
CREATE FUNCTION greylse.decide_many(clients inet[], client_names text[], senders text[], rcpts text[],
    delay int, retry_window int, awl_passes int, awl_lifetime int, prefix4 int, prefix6 int)
RETURNS TABLE (n int, verdict text, detail text, remaining int)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
BEGIN
    FOR i IN 1 .. coalesce(array_length(clients, 1), 0) LOOP
        SELECT * INTO d FROM greylse.decide(clients[i], client_names[i], senders[i], rcpts[i],
                            delay, retry_window, awl_passes, awl_lifetime, prefix4, prefix6);
        n := i; verdict := d.verdict; detail := d.detail; remaining := d.remaining;
        RETURN NEXT;
    END LOOP;
END $$;

-- Forget old state in small steps (the daemon calls it every few minutes):
-- triplets that never passed after twice the retry window, passed triplets
-- and AWL entries unused for their lifetime, list entries expired a week ago.
-- Each DELETE takes at most `batch` rows, so it never holds many row locks.
CREATE FUNCTION greylse.expire(retry_window int, awl_lifetime int, batch int DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    total bigint := 0;
    n bigint;
BEGIN
    DELETE FROM greylse.triplets WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM greylse.triplets
         WHERE (passed IS NULL AND last_seen < now() - 2 * make_interval(secs => retry_window))
            OR last_seen < now() - make_interval(secs => awl_lifetime)
         LIMIT batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM greylse.awl WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM greylse.awl WHERE last_seen < now() - make_interval(secs => awl_lifetime)
         LIMIT batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM greylse.lists WHERE expires < now() - interval '7 days';
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    RETURN total;
END $$;

-- A daemon registers its settings at start and after every reconnection.
CREATE FUNCTION greylse.hello(instance text, settings jsonb) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO greylse.instances VALUES (instance, settings, now(), now())
    ON CONFLICT (instance) DO UPDATE SET settings = EXCLUDED.settings, last_seen = now()
$$;

-- ---------------------------------------------------------------- control ---

-- The stored form of a list value; a clear error for a bad one.
CREATE FUNCTION greylse._value(kind text, value text, OUT v text, OUT net cidr)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    v := lower(btrim(value, ' <>'));
    IF v = '' THEN
        RAISE EXCEPTION 'empty % value', kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'client' THEN
        BEGIN
            net := v::cidr;
        EXCEPTION WHEN invalid_text_representation THEN
            RAISE EXCEPTION 'client % is not an address or network (CIDR)', value
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'e.g. 192.0.2.7, 192.0.2.0/24 or 2001:db8::/48 (host bits must be zero)';
        END;
        v := net::text;
    ELSIF kind NOT IN ('client_name', 'sender', 'recipient') THEN
        RAISE EXCEPTION 'unknown kind %', kind USING ERRCODE = 'invalid_parameter_value',
            HINT = 'use client, client_name, sender or recipient';
    END IF;
END $$;

CREATE FUNCTION greylse.add(list text, kind text, value text, expires_in interval DEFAULT NULL,
    comment text DEFAULT '') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    id bigint;
BEGIN
    IF list NOT IN ('white', 'black') THEN
        RAISE EXCEPTION 'unknown list %', list USING ERRCODE = 'invalid_parameter_value',
            HINT = 'use white or black';
    END IF;
    s := greylse._value(kind, value);
    INSERT INTO greylse.lists AS l (list, kind, value, net, expires, comment, added_by)
    -- The caller (a web UI request runs SET ROLE: the role setting names them).
    VALUES (add.list, add.kind, s.v, s.net, now() + expires_in, coalesce(add.comment, ''),
            CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role') END)
    ON CONFLICT ON CONSTRAINT lists_list_kind_value_key DO UPDATE
        SET expires = EXCLUDED.expires, comment = EXCLUDED.comment
    RETURNING l.id INTO id;
    RETURN id;
END $$;

CREATE FUNCTION greylse.remove(id bigint) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH d AS (DELETE FROM greylse.lists l WHERE l.id = remove.id RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d)
$$;

CREATE FUNCTION greylse.remove(list text, kind text, value text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH d AS (DELETE FROM greylse.lists l
                WHERE l.list = remove.list AND l.kind = remove.kind
                  AND l.value = (greylse._value(remove.kind, remove.value)).v RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d)
$$;

-- Let an entry expire at `at` (now() to end it at once).
CREATE FUNCTION greylse.expire_entry(id bigint, at timestamptz DEFAULT now()) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH u AS (UPDATE greylse.lists l SET expires = at WHERE l.id = expire_entry.id RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

CREATE FUNCTION greylse.entries(list text DEFAULT NULL)
RETURNS TABLE (id bigint, list text, kind text, value text, expires timestamptz, active boolean,
               comment text, added timestamptz, added_by name)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.id, l.list, l.kind, l.value, l.expires, l.expires IS NULL OR l.expires > now(),
           l.comment, l.added, l.added_by
      FROM greylse.lists l
     WHERE entries.list IS NULL OR l.list = entries.list
     ORDER BY l.list, l.kind, l.value
$$;

-- The triplets of a client address (any network holding it), optionally
-- narrowed to a sender and recipient.
CREATE FUNCTION greylse.triplet(client inet, sender text DEFAULT NULL, rcpt text DEFAULT NULL)
RETURNS SETOF greylse.triplets
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM greylse.triplets t
     WHERE t.net >>= client
       AND (triplet.sender IS NULL OR t.sender = lower(triplet.sender))
       AND (triplet.rcpt IS NULL OR t.rcpt = lower(triplet.rcpt))
     ORDER BY t.last_seen DESC
$$;

CREATE FUNCTION greylse.clear_triplet(client inet, sender text DEFAULT NULL, rcpt text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH d AS (DELETE FROM greylse.triplets t
                WHERE t.net >>= client
                  AND (clear_triplet.sender IS NULL OR t.sender = lower(clear_triplet.sender))
                  AND (clear_triplet.rcpt IS NULL OR t.rcpt = lower(clear_triplet.rcpt))
               RETURNING 1)
    SELECT count(*) FROM d
$$;

-- The running (and past) daemons and their settings.
CREATE FUNCTION greylse.settings()
RETURNS TABLE (instance text, settings jsonb, started timestamptz, last_seen timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM greylse.instances ORDER BY last_seen DESC
$$;

-- Decisions per day by action and reason, counted from the mail log (the
-- daemon logs each decision; pg_else stores it as kind `policy`).
CREATE FUNCTION greylse.counts(since timestamptz DEFAULT now() - interval '7 days',
    until timestamptz DEFAULT now())
RETURNS TABLE (day date, action text, reason text, decisions bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT (l.at AT TIME ZONE 'UTC')::date, l.status, substring(l.msg FROM ' reason=([^ ]*)'), count(*)
      FROM maillog.lines(since, until) l
     WHERE l.kind = 'policy' AND l.at < until
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
$$;
