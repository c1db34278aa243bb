//! The key vocabulary as SQL functions, for compaction (schema.sql) and the
//! lookup (lookup.sql): both name a field by its `maillog_core::keys::Field`
//! name and never spell a compacted key by hand.
//! Immutable, so that with constant arguments the planner folds `_probe` into
//! the GIN index condition.
use maillog_core::keys::{list_keys, Field};
use maillog_core::parse::parse_message;
use pgrx::prelude::*;

fn field(name: &str) -> Field {
    match Field::from_name(name) {
        Some(f) => f,
        None => pgrx::error!("maillog: unknown key field {name:?}"),
    }
}

/// Every key a stored line is found by in a compacted block (distinct).
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe)]
fn _archive_keys(
    queue_id: Option<&str>,
    link: Option<&str>,
    sender: Option<&str>,
    recipient: Option<&str>,
    orig_recipient: Option<&str>,
    message_id: Option<&str>,
    client: Option<&str>,
    client_name: Option<&str>,
    status: Option<&str>,
) -> Vec<String> {
    let mut keys = Vec::with_capacity(12);
    for (f, v) in [
        (Field::QueueId, queue_id),
        (Field::Link, link),
        (Field::Sender, sender),
        (Field::Recipient, recipient),
        (Field::OrigRecipient, orig_recipient),
        (Field::MessageId, message_id),
        (Field::Client, client),
        (Field::ClientName, client_name),
        (Field::Status, status),
    ] {
        f.archive_keys(v, &mut keys);
    }
    keys
}

/// The compacted-block keys that find `vals` in any of `fields`.
#[pg_extern(immutable, parallel_safe, strict)]
fn _probe(fields: Vec<String>, vals: Vec<Option<String>>) -> Vec<String> {
    let fields: Vec<Field> = fields.iter().map(|f| field(f)).collect();
    vals.iter()
        .flatten()
        .flat_map(|v| fields.iter().map(move |f| f.archive_key(v)))
        .collect()
}

/// The keys of a line naming several recipients (amavis `<a>,<b>`, Exchange
/// `a;b`), read from its stored text: each address and its `@domain`
/// (`maillog_core::keys::list_keys`); NULL for other lines. Indexed on the day
/// partitions (schema.sql `_index_partition`) and added to a compacted block's
/// recipient keys, so a search by any of the addresses finds the line; lines
/// stored before 0.2.0 are keyed too, from their text. Immutable: the index
/// depends on it, so a change of what it returns needs a REINDEX.
#[pg_extern(immutable, parallel_safe, strict)]
fn _recipient_keys(program: &str, msg: &str) -> Option<Vec<String>> {
    let e = parse_message(program, msg);
    e.fields.recipient_list?;
    Some(list_keys(e.fields.recipients()))
}

/// [`_recipient_keys`] as a compacted block's recipient keys.
#[pg_extern(immutable, parallel_safe, strict)]
fn _recipient_archive_keys(program: &str, msg: &str) -> Option<Vec<String>> {
    let keys = _recipient_keys(program, msg)?;
    Some(
        keys.iter()
            .map(|k| Field::Recipient.archive_key(k))
            .collect(),
    )
}
