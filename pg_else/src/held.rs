//! Inbox rows held past their row-trigger call: each one a copy of the
//! trigger's tuple in a memory context of this backend, read in place. The
//! unsafe part of the inbox path lives here, behind a safe interface: a row
//! is read through a borrow of its `Held`, and only `clear(&mut self)` frees
//! the copies, so no view outlives the memory it points into.
//!
//! Why copies instead of owned Rust values: reading the six columns one by
//! one through `PgHeapTuple::get_by_index` (an attribute walk and a type
//! check each) and copying four of them into `String`s was 3 % of an omelse
//! batch's server time (perf); one `heap_copytuple` and one
//! `heap_deform_tuple` per row replace them.
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;

/// maillog.inbox's columns, in table order: line, uid, at, host, tag, msg.
const COLUMNS: usize = 6;

/// One inbox row, borrowed from the tuple it was read from.
pub struct InboxRow<'a> {
    pub line: Option<&'a str>,
    pub uid: Option<Uuid>,
    pub at: Option<TimestampWithTimeZone>,
    pub host: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub msg: Option<&'a str>,
}

/// A deformed tuple: its column values point into the tuple.
#[derive(Clone, Copy)]
struct Deformed {
    values: [pg_sys::Datum; COLUMNS],
    nulls: [bool; COLUMNS],
}

/// Copies of inbox tuples, kept until `clear`.
#[derive(Default)]
pub struct Held {
    /// Created on first use under TopMemoryContext and never deleted; reset
    /// by `clear`, so a backend reuses its blocks statement after statement.
    mem: Option<pg_sys::MemoryContext>,
    rows: Vec<Deformed>,
}

/// The row an INSERT row trigger was fired with, its shape checked once.
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    _call: std::marker::PhantomData<&'a pg_sys::TriggerData>,
}

impl<'a> Incoming<'a> {
    pub fn of(td: &'a pg_sys::TriggerData) -> Self {
        assert!(
            !td.tg_trigtuple.is_null(),
            "an INSERT row trigger has a row"
        );
        // SAFETY: PostgreSQL hands a row trigger a valid relation.
        let desc = unsafe { (*td.tg_relation).rd_att };
        // SAFETY: a valid descriptor; a DBA's ALTER TABLE maillog.inbox (even a
        // dropped column) changes the column count, and that is refused here.
        let natts = unsafe { (*desc).natts };
        if usize::try_from(natts).ok() != Some(COLUMNS) {
            error!("maillog.inbox must have its {COLUMNS} columns (line, uid, at, host, tag, msg), it has {natts}");
        }
        Incoming {
            tuple: td.tg_trigtuple,
            desc,
            _call: std::marker::PhantomData,
        }
    }

    /// Its size, as stored in its tuple.
    pub fn size(&self) -> usize {
        // SAFETY: checked non-null by `of`.
        unsafe { (*self.tuple).t_len as usize }
    }

    /// The row, read in place (valid during the trigger call).
    pub fn read(&self) -> InboxRow<'a> {
        // SAFETY: the trigger's tuple lives as long as the borrow of its data.
        unsafe { view(&deform(self.tuple, self.desc)) }
    }
}

/// # Safety
/// `tuple` is a valid tuple of `desc`, which has `COLUMNS` attributes.
unsafe fn deform(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Deformed {
    let mut d = Deformed {
        values: [pg_sys::Datum::from(0usize); COLUMNS],
        nulls: [true; COLUMNS],
    };
    unsafe { pg_sys::heap_deform_tuple(tuple, desc, d.values.as_mut_ptr(), d.nulls.as_mut_ptr()) };
    d
}

/// Whether the database's text is UTF-8, and so readable as `&str` as is.
fn utf8_database() -> bool {
    thread_local! {
        // SAFETY: reads the database encoding, fixed for the backend's life.
        static UTF8: bool = unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32;
    }
    UTF8.with(|u| *u)
}

/// # Safety
/// `value` is a text datum (not null), alive for `'a`.
unsafe fn text<'a>(value: pg_sys::Datum) -> &'a str {
    let v = value.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: a valid varlena. A tuple formed for a row trigger holds its
    // text inline and uncompressed, so this reads it in place, without the
    // guarded call into PostgreSQL that pgrx's conversion makes per column
    // (0.6 % of an omelse batch's server time); anything else, or text
    // that is not UTF-8 by the database's encoding, goes through pgrx.
    unsafe {
        use pgrx::varlena::{varatt_is_1b_e, varatt_is_4b_c, varlena_to_byte_slice};
        if varatt_is_1b_e(v) || varatt_is_4b_c(v) || !utf8_database() {
            return <&'a str>::from_datum(value, false).expect("not null");
        }
        std::str::from_utf8_unchecked(varlena_to_byte_slice(v))
    }
}

/// # Safety
/// The tuple `d` was deformed from is alive for `'a`.
unsafe fn view<'a>(d: &Deformed) -> InboxRow<'a> {
    // SAFETY: the columns' types are maillog.inbox's (text, uuid,
    // timestamptz, text, text, text); a value read is valid while its tuple is.
    unsafe {
        let text = |i: usize| (!d.nulls[i]).then(|| text(d.values[i]));
        InboxRow {
            line: text(0),
            uid: Uuid::from_datum(d.values[1], d.nulls[1]),
            at: TimestampWithTimeZone::from_datum(d.values[2], d.nulls[2]),
            host: text(3),
            tag: text(4),
            msg: text(5),
        }
    }
}

impl Held {
    /// Keep a copy of the row of a trigger call; returns it, read in place.
    pub fn push(&mut self, row: Incoming) -> InboxRow<'_> {
        let mem = *self.mem.get_or_insert_with(|| {
            // SAFETY: a child of TopMemoryContext, alive for the backend.
            unsafe {
                pg_sys::AllocSetContextCreateExtended(
                    pg_sys::TopMemoryContext,
                    c"maillog inbox rows".as_ptr(),
                    pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                    pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                    pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
                )
            }
        });
        // SAFETY: the copy is made in `mem`, which only `clear` resets, and
        // views of it borrow `self`.
        let d = unsafe {
            let before = pg_sys::MemoryContextSwitchTo(mem);
            let copy = pg_sys::heap_copytuple(row.tuple);
            pg_sys::MemoryContextSwitchTo(before);
            deform(copy, row.desc)
        };
        self.rows.push(d);
        // SAFETY: as above.
        unsafe { view(&d) }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Rows `range` of those held, read in place.
    pub fn rows(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = InboxRow<'_>> {
        self.rows
            .get(range)
            .unwrap_or_default()
            .iter()
            // SAFETY: the copies live until `clear`, which needs `&mut self`.
            .map(|d| unsafe { view(d) })
    }

    /// Forget every row and free their copies.
    pub fn clear(&mut self) {
        self.rows.clear();
        if let Some(mem) = self.mem {
            // SAFETY: no view is alive (they borrow `self`).
            unsafe { pg_sys::MemoryContextReset(mem) };
        }
    }
}
