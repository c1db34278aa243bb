-- What the web UI (wui/) keeps in the database: each person's recent
-- searches ("My searches"). Row-level security makes them private: a person
-- (the web UI switches to their role per request) sees and adds only rows
-- with their own name, whatever other rights they hold. Kept in pg_dump.
CREATE TABLE maillog.web_searches (
    who   name NOT NULL DEFAULT current_user,
    at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The search page's query string, e.g. recipient=bob%40example.org&range=7d
    query text NOT NULL CHECK (length(query) <= 4000),
    PRIMARY KEY (who, at)
);
ALTER TABLE maillog.web_searches ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_searches ON maillog.web_searches
    USING (who = current_user) WITH CHECK (who = current_user);
SELECT pg_catalog.pg_extension_config_dump('maillog.web_searches', '');
