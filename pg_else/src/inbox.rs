//! The inbox rows of the running statement, held in this backend's memory
//! instead of the `maillog.inbox` heap. A BEFORE ROW trigger takes each row
//! and skips its insertion; the statement trigger (`_inbox_flush`, schema.sql)
//! parses and stores them with `_ingest(taken => chunk)`, then `_inbox_clear`s.
//!
//! Why: staged in the heap, every row was written, captured again in the
//! transition table, gathered into arrays by a sort, and deleted; the DELETE
//! scanned every page the inbox grew to since autovacuum last ran (a minute
//! of batches). For 300,000 omelse rows in 74 COPYs, server time went from
//! 2,603 to 2,069 ms (pg_stat_statements).
//!
//! Bounded: past `LIMIT_BYTES` of rows in one statement (a DBA's `\copy` of a
//! large file), every further row goes to the heap as before and the
//! statement trigger reads them from its transition table, after the taken
//! ones (arrival order). The row trigger still notes what the statement
//! trigger needs of every row (identity-less rows, sending peers), so that
//! the rule for a row's peer lives in `ingest::peer` alone.
//!
//! Rows of a statement that failed are never stored: the buffer belongs to
//! one (transaction, subtransaction); an error aborts that subtransaction,
//! and its id is never current again, so `taken_now` discards what a failed
//! statement left. (Retries inside `_inbox_flush` run in subtransactions of
//! their own and read the buffer without that check.)
use crate::held::{Held, InboxRow, Incoming};
use crate::ingest::{ingest_row, LineRow};
use maillog_core::parse::Context;
use pgrx::prelude::*;
use pgrx::WhoAllocated;
use std::cell::RefCell;

/// Tuple bytes held per statement before rows go to the heap instead.
const LIMIT_BYTES: usize = 64 << 20;
/// Rows per `_ingest(taken => chunk)` call (as the chunks of its array form).
const CHUNK: usize = 10_000;

#[derive(Default)]
struct Taken {
    /// (transaction start, subtransaction) that took the rows.
    owner: (i64, u32),
    rows: Held,
    bytes: usize,
    /// Rows went to the heap: so does every later row of the statement.
    spilled: bool,
    notes: Notes,
}

/// What the statement trigger needs of all the statement's rows, taken or
/// spilled.
#[derive(Default)]
struct Notes {
    /// One came without an identity (a raw line, numbered by content) ...
    raw: bool,
    /// ... or named no sending peer ...
    unnamed: bool,
    /// ... and the sending peers named, once each.
    peers: Vec<String>,
}

impl Taken {
    /// Empty, for `owner`; the held rows' memory is freed and kept for reuse.
    fn reset(&mut self, owner: (i64, u32)) {
        self.rows.clear();
        self.owner = owner;
        self.bytes = 0;
        self.spilled = false;
        self.notes = Notes::default();
    }
}

impl Notes {
    fn note(&mut self, row: &InboxRow) {
        self.raw |= row.uid.is_none();
        let peer = crate::ingest::peer(row.line, row.at.as_ref(), row.host, row.tag);
        if peer.is_empty() {
            self.unnamed = true;
        } else if !self.peers.iter().any(|p| p == peer) {
            self.peers.push(peer.to_owned());
        }
    }
}

thread_local! {
    static TAKEN: RefCell<Taken> = RefCell::new(Taken::default());
}

/// Run `f` on the buffer of the current statement (emptied first if it was
/// left by a failed one).
fn taken_now<R>(f: impl FnOnce(&mut Taken) -> R) -> R {
    let owner = crate::ingest::current_owner();
    TAKEN.with(|t| {
        let mut t = t.borrow_mut();
        if t.owner != owner {
            t.reset(owner);
        }
        f(&mut t)
    })
}

/// BEFORE INSERT FOR EACH ROW on maillog.inbox: keep the row here (NULL:
/// not inserted), or let it into the heap once the statement holds
/// `LIMIT_BYTES`.
#[pg_trigger]
fn _inbox_take<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, impl WhoAllocated>>, PgHeapTupleError> {
    let row = Incoming::of(trigger.trigger_data());
    // The tuple's size, plus a rough 40 bytes for the row's bookkeeping.
    let size = row.size() + 40;
    let kept = taken_now(|t| {
        t.spilled |= t.bytes + size > LIMIT_BYTES;
        if t.spilled {
            t.notes.note(&row.read());
            return false;
        }
        t.bytes += size;
        t.notes.note(&t.rows.push(row));
        true
    });
    Ok(if kept { None } else { trigger.new() })
}

/// What the statement trigger needs of the current statement's rows: how
/// many chunks were taken; whether any row, taken or spilled, came without
/// an identity (the store then inserts in key order, see `_inbox_flush`);
/// and their sending peers, once each and sorted ('' for rows that name
/// none). (Whether rows are in the
/// heap, the trigger reads from its transition table itself.)
#[pg_extern(volatile, parallel_unsafe)]
fn _inbox_taken() -> TableIterator<
    'static,
    (
        name!(chunks, i32),
        name!(raw, bool),
        name!(peers, Vec<String>),
    ),
> {
    let (n, raw, mut peers) = taken_now(|t| {
        let mut peers = t.notes.peers.clone();
        if t.notes.unnamed {
            peers.push(String::new());
        }
        (t.rows.len(), t.notes.raw, peers)
    });
    peers.sort_unstable();
    let chunks = i32::try_from(n.div_ceil(CHUNK)).expect("fewer than 2^31 chunks");
    TableIterator::once((chunks, raw, peers))
}

/// Chunk `chunk` (from 0) of the handed-over rows, parsed: what
/// `maillog._ingest(taken => chunk)` returns.
pub fn parsed_chunk(chunk: i32, ctx: &Context) -> Vec<LineRow> {
    let start = usize::try_from(chunk)
        .unwrap_or(usize::MAX)
        .saturating_mul(CHUNK);
    TAKEN.with(|t| {
        let t = t.borrow();
        let end = t.rows.len().min(start.saturating_add(CHUNK));
        t.rows
            .rows(start..end)
            .map(|r| ingest_row(ctx, r.line, r.uid, r.at, r.host, r.tag, r.msg))
            .collect()
    })
}

/// Forget the handed-over rows (stored, or a resend skipped).
#[pg_extern(volatile, parallel_unsafe)]
fn _inbox_clear() {
    TAKEN.with(|t| {
        let mut t = t.borrow_mut();
        let owner = t.owner;
        t.reset(owner);
    });
}
