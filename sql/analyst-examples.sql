-- ELSE: questions analysts ask, as SQL. Run with: psql -d maillog -f sql/analyst-examples.sql
-- (each query stands alone; copy the one you need).

-- What happened to the mail from X to Y today?
SELECT received_at, queue_id, status, dsn, relay, response, path
  FROM maillog.search(sender => 'alice@example.net', recipient => 'bob@example.com',
                      since => date_trunc('day', now()));

-- Everything that bounced for one of our domains in the last week, newest first.
SELECT received_at, sender, recipient, dsn, response
  FROM maillog.search(recipient => '@example.com', status => 'bounced', since => now() - interval '7 days');

-- A user says "my mail never arrived": all journeys to that mailbox, with their hops.
SELECT received_at, sender, status, array_to_string(path, ' -> ') AS hops, finished_at
  FROM maillog.search(recipient => 'bob@example.com', max_rows => 50);

-- Every line of one message across content filter, hosts and bounce notice.
SELECT at, host, program, line FROM maillog.trace('<message-id@example.net>');

-- Mail still pending (deferred) and why.
SELECT received_at, recipient, relay, response
  FROM maillog.search(status => 'deferred', since => now() - interval '5 days');

-- What did this client send us, and what did we refuse?
SELECT received_at, sender, recipient, status, dsn FROM maillog.search(client => '198.51.100.7');

-- pflogsumm-style grand totals, per hour traffic and top lists for yesterday.
SELECT * FROM maillog.summary(date_trunc('day', now()) - interval '1 day', date_trunc('day', now()));
SELECT * FROM maillog.per_hour(now() - interval '1 day');
SELECT * FROM maillog.top('recipient_domains', now() - interval '1 day', n => 20);
SELECT * FROM maillog.top('rejected_clients', now() - interval '1 day');

-- Parser coverage: which programs log lines ELSE keeps as "other"?
SELECT * FROM maillog.kinds WHERE kind = 'other';

-- The parser on any table of raw lines, e.g. a staging table of your own.
SELECT p.kind, p.queue_id, p.recipient, p.status
  FROM (VALUES ('Nov 28 10:00:02 mx1 postfix/qmgr[42]: 3F1A2B4C5D: removed')) AS raw(line),
       LATERAL maillog.parse(raw.line) p;
