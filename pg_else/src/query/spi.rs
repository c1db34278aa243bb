//! The lookup, seen from Rust: every SPI call of the query pipeline. The SQL
//! it runs names the lookup's function of each field (sql/lookup.sql,
//! `maillog._find_<field>`) and the field's time window from the key
//! vocabulary; values travel as parameters, which SPI's one-shot plans treat
//! as constants (index conditions, partition pruning).
use super::Stored;
use crate::time;
use maillog_core::keys::Field;
use pgrx::datum::{DatumWithOid, TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use pgrx::spi::{SpiResult, SpiTupleTable};

/// The columns of a stored line the pipeline reads, in [`Stored`]'s order.
const COLUMNS: &str =
    "at, uid, host, program, pid, qid, kind, sender, rcpt, orig_rcpt, client, msgid, msg, link";

fn read(table: SpiTupleTable) -> SpiResult<Vec<Stored>> {
    let mut out = Vec::with_capacity(table.len());
    for row in table {
        let at: TimestampWithTimeZone = row.get(1)?.expect("maillog.line.at is NOT NULL");
        out.push(Stored {
            at,
            at_us: time::to_unix(at),
            uid: row.get::<Uuid>(2)?.expect("maillog.line.uid is NOT NULL"),
            host: row.get(3)?.unwrap_or_default(),
            program: row.get(4)?.unwrap_or_default(),
            pid: row.get(5)?,
            qid: row.get(6)?,
            kind: row.get(7)?.unwrap_or_default(),
            sender: row.get(8)?,
            rcpt: row.get(9)?,
            orig_rcpt: row.get(10)?,
            client: row.get(11)?,
            msgid: row.get(12)?,
            msg: row.get(13)?.unwrap_or_default(),
            link: row.get(14)?,
        });
    }
    Ok(out)
}

fn select(sql: &str, args: &[DatumWithOid]) -> Vec<Stored> {
    Spi::connect(|c| c.select(sql, None, args).and_then(read))
        .unwrap_or_else(|e| error!("maillog lookup failed: {e}"))
}

/// The bounds of the lines found by `field` for journeys in [lo, hi] (None:
/// unbounded): the field's window (`Field::window_days`, days of 24 hours).
/// Computed here, so that the lookup gets constants: the planner then prunes
/// partitions and blocks while planning.
pub fn window(
    field: Field,
    lo: Option<TimestampWithTimeZone>,
    hi: Option<TimestampWithTimeZone>,
) -> (Option<TimestampWithTimeZone>, Option<TimestampWithTimeZone>) {
    const DAY_US: i64 = 86_400_000_000;
    let (before, after) = field.window_days();
    let shift = |t: Option<TimestampWithTimeZone>, days: i32| {
        t.and_then(|t| time::from_unix(time::to_unix(t).saturating_add(i64::from(days) * DAY_US)))
    };
    (shift(lo, -before), shift(hi, after))
}

/// The lines whose `field` is one of `vals` for journeys in [lo, hi] (None:
/// unbounded); with `newest`, only that many, newest first.
pub fn find(
    field: Field,
    vals: Vec<String>,
    lo: Option<TimestampWithTimeZone>,
    hi: Option<TimestampWithTimeZone>,
    newest: Option<i64>,
) -> Vec<Stored> {
    let (lo, hi) = window(field, lo, hi);
    find_logged(field, vals, lo, hi, newest)
}

/// The lines whose `field` is one of `vals`, logged in [lo, hi] itself (not
/// widened by the field's window).
pub fn find_logged(
    field: Field,
    vals: Vec<String>,
    lo: Option<TimestampWithTimeZone>,
    hi: Option<TimestampWithTimeZone>,
    newest: Option<i64>,
) -> Vec<Stored> {
    let order = if newest.is_some() {
        " ORDER BY at DESC, uid DESC LIMIT $4"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM maillog._find_{}($1, $2, $3){order}",
        field.name()
    );
    let mut args: Vec<DatumWithOid> = vec![vals.into(), lo.into(), hi.into()];
    if let Some(n) = newest {
        args.push(n.into());
    }
    select(&sql, &args)
}

/// The queue IDs of lines naming one of `qids` as their next hop, for
/// journeys in [lo, hi].
pub fn linked(
    qids: &[String],
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Vec<String> {
    let (lo, hi) = window(Field::Link, Some(lo), Some(hi));
    linked_logged(qids, lo, hi)
}

/// The queue IDs of lines naming one of `qids` as their next hop, logged in
/// [lo, hi] itself.
pub fn linked_logged(
    qids: &[String],
    lo: Option<TimestampWithTimeZone>,
    hi: Option<TimestampWithTimeZone>,
) -> Vec<String> {
    let args: [DatumWithOid; 3] = [qids.to_vec().into(), lo.into(), hi.into()];
    Spi::connect(|c| {
        c.select(
            "SELECT q FROM maillog._find_link($1, $2, $3) q",
            None,
            &args,
        )?
        .map(|r| r.get::<String>(1))
        .collect::<SpiResult<Vec<_>>>()
    })
    .unwrap_or_else(|e| error!("maillog lookup failed: {e}"))
    .into_iter()
    .flatten()
    .collect()
}

/// The smtpd rejects caused by these policy-server refusals.
pub fn policy_rejects(refusals: &[&Stored]) -> Vec<Stored> {
    let rcpts: Vec<Option<String>> = refusals.iter().map(|p| p.rcpt.clone()).collect();
    let clients: Vec<Option<String>> = refusals.iter().map(|p| p.client.clone()).collect();
    let ats: Vec<TimestampWithTimeZone> = refusals.iter().map(|p| p.at).collect();
    let sql = format!("SELECT {COLUMNS} FROM maillog._policy_rejects($1, $2, $3)");
    select(&sql, &[rcpts.into(), clients.into(), ats.into()])
}

/// With no selective filter: the newest `n` lines of queue entries and refusals.
pub fn recent(
    lo: Option<TimestampWithTimeZone>,
    hi: Option<TimestampWithTimeZone>,
    host: Option<&str>,
    n: i64,
) -> Vec<Stored> {
    let sql = format!(
        "SELECT {COLUMNS} FROM maillog._recent(coalesce($1, '-infinity'), coalesce($2, 'infinity'), $3, $4)"
    );
    select(
        &sql,
        &[
            lo.into(),
            hi.into(),
            host.into(),
            (n.min(i32::MAX as i64) as i32).into(),
        ],
    )
}

/// The caller's scope: (admin, hosts, domains, domains with subdomains).
pub fn scope() -> (bool, Vec<String>, Vec<String>, Vec<String>) {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT (s).admin, (s).hosts, (s).domains, (s).subdomains FROM maillog._scope() s",
            Some(1),
            &[],
        )?;
        let row = t.first();
        let list = |i: usize| -> SpiResult<Vec<String>> {
            Ok(row
                .get::<Vec<Option<String>>>(i)?
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .collect())
        };
        Ok::<_, pgrx::spi::SpiError>((
            row.get::<bool>(1)?.unwrap_or(false),
            list(2)?,
            list(3)?,
            list(4)?,
        ))
    })
    .unwrap_or_else(|e| error!("maillog scope failed: {e}"))
}
