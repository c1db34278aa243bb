//! Administration for ELSE admins: groups with their members, hosts and
//! domains; retention and compaction settings; parser coverage
//! (`maillog.kinds`). Changes are POSTs with the CSRF token; each is one
//! statement with bound values, and the database's grants decide.
use crate::db::DbError;
use crate::pages::layout;
use crate::web::{check_csrf, db_error, Person, Shared};
use axum::extract::Form;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Default)]
struct Group {
    comment: String,
    roles: Vec<String>,
    hosts: Vec<String>,
    domains: Vec<(String, bool)>,
}

fn remove_button(csrf: &str, action: &str, grp: &str, value: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action="/admin" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value=(action);
            input type="hidden" name="grp" value=(grp);
            input type="hidden" name="value" value=(value);
            button.small type="submit" aria-label=(label) { "×" }
        }
    }
}

fn add_form(csrf: &str, grp: &str, action: &str, label: &str, extra: Markup) -> Markup {
    let id = format!("{action}-{grp}");
    html! {
        form.inline method="post" action="/admin" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value=(action);
            input type="hidden" name="grp" value=(grp);
            label.sr for=(id) { (label) " to group " (grp) }
            input id=(id) name="value" required maxlength="255" placeholder=(label);
            (extra)
            button.small type="submit" { "Add" }
        }
    }
}

pub async fn page(axum::extract::State(app): Shared, Person(s): Person) -> Response {
    let r: Result<_, DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for r in tx
            .query(
                "SELECT name, coalesce(comment, '') FROM maillog.groups",
                &[],
            )
            .await?
        {
            groups.entry(r.get(0)).or_default().comment = r.get(1);
        }
        for r in tx
            .query(
                "SELECT grp, role::text FROM maillog.group_roles ORDER BY 2",
                &[],
            )
            .await?
        {
            groups.entry(r.get(0)).or_default().roles.push(r.get(1));
        }
        for r in tx
            .query("SELECT grp, host FROM maillog.group_hosts ORDER BY 2", &[])
            .await?
        {
            groups.entry(r.get(0)).or_default().hosts.push(r.get(1));
        }
        for r in tx
            .query(
                "SELECT grp, domain, subdomains FROM maillog.group_domains ORDER BY 2",
                &[],
            )
            .await?
        {
            groups
                .entry(r.get(0))
                .or_default()
                .domains
                .push((r.get(1), r.get(2)));
        }
        let settings = tx
            .query_one(
                "SELECT retention::text, compact_after::text FROM maillog.settings",
                &[],
            )
            .await?;
        let settings: (String, String) = (settings.get(0), settings.get(1));
        let kinds: Vec<(Option<String>, Option<String>, i64)> = tx
            .query("SELECT program, kind, lines FROM maillog.kinds", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        tx.commit().await?;
        Ok((groups, settings, kinds))
    }
    .await;
    let (groups, settings, kinds) = match r {
        Ok(x) => x,
        Err(e) => return db_error(&s, "Administration", e),
    };
    let total: i64 = kinds.iter().map(|k| k.2).sum();
    let unparsed: i64 = kinds
        .iter()
        .filter(|k| k.1.as_deref() == Some("other"))
        .map(|k| k.2)
        .sum();
    let c = s.csrf.as_str();
    layout::page(&s, "Administration", "/admin", html! {
        section aria-labelledby="groups-h" {
            h2 #groups-h { "Groups" }
            p.hint { "A person sees the mail of their groups' hosts and domains. Members are PostgreSQL roles (a role granted to people works as a team)." }
            @for (name, g) in &groups {
                article.group aria-label=(format!("Group {name}")) {
                    h3 { (name) @if !g.comment.is_empty() { " — " span.comment { (g.comment) } } }
                    div.cols {
                        div { h4 { "Members" } ul { @for r in &g.roles { li { (r) " " (remove_button(c, "remove_role", name, r, &format!("Remove {r} from {name}"))) } } }
                              (add_form(c, name, "add_role", "role", html! {})) }
                        div { h4 { "Hosts" } ul { @for x in &g.hosts { li { (x) " " (remove_button(c, "remove_host", name, x, &format!("Remove host {x} from {name}"))) } } }
                              (add_form(c, name, "add_host", "host", html! {})) }
                        div { h4 { "Domains" } ul { @for (d, sub) in &g.domains { li { (d) @if *sub { " and sub-domains" } " " (remove_button(c, "remove_domain", name, d, &format!("Remove domain {d} from {name}"))) } } }
                              (add_form(c, name, "add_domain", "domain", html! {
                                  label { input type="checkbox" name="subdomains" value="on"; " with sub-domains" }
                              })) }
                    }
                    form.inline method="post" action="/admin" {
                        input type="hidden" name="csrf" value=(c);
                        input type="hidden" name="action" value="delete_group";
                        input type="hidden" name="grp" value=(name);
                        button.danger type="submit" { "Delete group " (name) }
                    }
                }
            }
            form.add method="post" action="/admin" {
                h3 { "New group" }
                input type="hidden" name="csrf" value=(c);
                input type="hidden" name="action" value="create_group";
                label for="new-grp" { "Name" } input #new-grp name="grp" required maxlength="100";
                label for="new-comment" { "Comment" } input #new-comment name="value" maxlength="500";
                button type="submit" { "Create" }
            }
        }
        section aria-labelledby="set-h" {
            h2 #set-h { "Retention and compaction" }
            form.add method="post" action="/admin" {
                input type="hidden" name="csrf" value=(c);
                input type="hidden" name="action" value="settings";
                label for="retention" { "Keep lines for" } input #retention name="retention" value=(settings.0) required;
                label for="compact_after" { "Compact days older than" } input #compact_after name="value" value=(settings.1) required;
                button type="submit" { "Save" }
            }
            p.hint { "PostgreSQL intervals, e.g. 90 days, 1 day. maillog.purge() and maillog.compact() use them." }
        }
        section aria-labelledby="kinds-h" {
            h2 #kinds-h { "Parser coverage" }
            p { (total) " lines, " (unparsed) " not understood by the parser (kind other; stored and searchable as text)." }
            table.top {
                thead { tr { th scope="col" { "Program" } th scope="col" { "Kind" } th scope="col" { "Lines" } } }
                tbody { @for (p, k, n) in &kinds { tr { td { (p.as_deref().unwrap_or("")) } td { (k.as_deref().unwrap_or("")) } td.num { (n) } } } }
            }
        }
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct Change {
    csrf: Option<String>,
    action: String,
    #[serde(default)]
    grp: String,
    #[serde(default)]
    value: String,
    subdomains: Option<String>,
    retention: Option<String>,
}

pub async fn change(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Form(f): Form<Change>,
) -> Response {
    if let Err(r) = check_csrf(&s, f.csrf.as_deref()) {
        return r.into_response();
    }
    let (grp, value) = (f.grp.trim(), f.value.trim());
    let sub = f.subdomains.is_some();
    let r: Result<(), DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        match f.action.as_str() {
            "create_group" => tx.execute("INSERT INTO maillog.groups (name, comment) VALUES ($1, nullif($2, ''))", &[&grp, &value]).await?,
            "delete_group" => tx.execute("DELETE FROM maillog.groups WHERE name = $1", &[&grp]).await?,
            "add_role" => tx.execute("INSERT INTO maillog.group_roles (grp, role) VALUES ($1, $2::text::name)", &[&grp, &value]).await?,
            "remove_role" => tx.execute("DELETE FROM maillog.group_roles WHERE grp = $1 AND role = $2::text::name", &[&grp, &value]).await?,
            "add_host" => tx.execute("INSERT INTO maillog.group_hosts (grp, host) VALUES ($1, $2)", &[&grp, &value]).await?,
            "remove_host" => tx.execute("DELETE FROM maillog.group_hosts WHERE grp = $1 AND host = $2", &[&grp, &value]).await?,
            "add_domain" => tx.execute(
                "INSERT INTO maillog.group_domains (grp, domain, subdomains) VALUES ($1, lower(ltrim($2, '@')), $3)",
                &[&grp, &value, &sub],
            ).await?,
            "remove_domain" => tx.execute("DELETE FROM maillog.group_domains WHERE grp = $1 AND domain = $2", &[&grp, &value]).await?,
            "settings" => tx.execute(
                "UPDATE maillog.settings SET retention = $1::text::interval, compact_after = $2::text::interval",
                &[&f.retention.as_deref().unwrap_or("").trim(), &value],
            ).await?,
            other => return Err(DbError::Request(format!("unknown action {other:?}"))),
        };
        tx.commit().await?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(e) => db_error(&s, "Administration", e),
    }
}
