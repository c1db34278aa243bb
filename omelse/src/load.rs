//! `else-load`: log files into `maillog.inbox` byte for byte, stored exactly
//! as omelse stores lines (the same row encoder and the same libpq layer).
//!
//! One input is one COPY in one transaction. pg_else identifies raw lines by
//! their content and numbers identical lines within one load, so a file that
//! holds a line twice keeps both, and loading the same file again stores
//! nothing new. Gzip input is recognised by its first bytes.
use crate::config::ActionConfig;
use crate::db::{self, Session};
use crate::encode::push_field;
use crate::error::DbError;
use flate2::bufread::MultiGzDecoder;
use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Read};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// COPY data is handed to libpq in buffers of about this size.
const FLUSH_AT: usize = 1 << 20;
/// No client-side deadline worth the name: a multi-GB file is parsed by the
/// server's trigger when the COPY ends, which may take minutes.
const PATIENCE: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("reading the input: {0}")]
    Read(#[from] io::Error),
    #[error("invalid reference time {0:?}")]
    Reference(String),
}

/// How year-less (RFC 3164) lines are placed in time.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The transaction time, as for lines omelse writes.
    Now,
    /// An instant, as Unix seconds (a file's modification time).
    Unix(f64),
    /// A timestamp as the user typed it; PostgreSQL reads it.
    Text(String),
}

impl Reference {
    /// A file's modification time, never later than now: its lines were
    /// written before it, so years are inferred as when the file was written.
    pub fn of_mtime(mtime: SystemTime) -> Reference {
        let t = mtime.min(SystemTime::now());
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Reference::Unix(d.as_secs_f64()),
            Err(_) => Reference::Now,
        }
    }

    /// SQL that sets `maillog.reference_time` for the current transaction.
    fn sql(&self) -> Result<Option<CString>, LoadError> {
        let value = match self {
            Reference::Now => return Ok(None),
            Reference::Unix(s) => format!("to_timestamp({s:.6})"),
            Reference::Text(t) => {
                if t.contains('\0') || t.contains('\\') {
                    return Err(LoadError::Reference(t.clone()));
                }
                format!("'{}'::timestamptz", t.replace('\'', "''"))
            }
        };
        let sql = format!("SELECT set_config('maillog.reference_time', ({value})::text, true)");
        Ok(Some(CString::new(sql).expect("checked for NUL")))
    }
}

/// What one input gave.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    /// Non-empty lines sent.
    pub lines: u64,
    /// Their bytes as read (without line ends).
    pub bytes: u64,
    /// The last line had no line end (a file still being written?).
    pub unterminated: bool,
}

/// An input, decompressed when it starts with gzip's magic bytes.
pub fn open(r: impl Read + 'static) -> io::Result<Box<dyn BufRead>> {
    let mut r = BufReader::with_capacity(FLUSH_AT, r);
    Ok(if r.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(FLUSH_AT, MultiGzDecoder::new(r)))
    } else {
        Box::new(r)
    })
}

/// Encode every line of `input` as COPY text rows of one column, handing
/// buffers of about [`FLUSH_AT`] bytes to `sink`. A line ends at LF; a CR right
/// before it is part of the line end (CRLF files), any other byte is the
/// line's. Empty lines are skipped.
///
/// ```
/// let mut rows = Vec::new();
/// let n = omelse::load::encode_lines(&mut &b"a\tb\r\n\nc \xff\\"[..], |b| {
///     rows.extend_from_slice(b);
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(rows, b"a\\tb\nc \\\\xff\\\\\n");
/// assert_eq!((n.lines, n.bytes, n.unterminated), (2, 7, true));
/// ```
pub fn encode_lines(
    input: &mut dyn BufRead,
    mut sink: impl FnMut(&[u8]) -> Result<(), LoadError>,
) -> Result<Counts, LoadError> {
    let mut counts = Counts::default();
    let mut line = Vec::with_capacity(4096);
    let mut rows = Vec::with_capacity(FLUSH_AT + 4096);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let mut l = line.as_slice();
        match l.strip_suffix(b"\n") {
            Some(rest) => l = rest.strip_suffix(b"\r").unwrap_or(rest),
            None => counts.unterminated = true,
        }
        if l.is_empty() {
            continue;
        }
        push_field(&mut rows, l);
        rows.push(b'\n');
        counts.lines += 1;
        counts.bytes += l.len() as u64;
        if rows.len() >= FLUSH_AT {
            sink(&rows)?;
            rows.clear();
        }
    }
    if !rows.is_empty() {
        sink(&rows)?;
    }
    Ok(counts)
}

/// Load one input in one transaction. Returns the counts and how many lines
/// pg_else stored anew (`None` when the target is not pg_else's inbox).
pub fn load(
    config: &ActionConfig,
    reference: &Reference,
    input: &mut dyn BufRead,
) -> Result<(Counts, Option<u64>), LoadError> {
    let deadline = || Instant::now() + PATIENCE;
    let setup = CString::new("SET statement_timeout = 0").expect("static");
    let params = config.conn_params_as("else-load");
    let mut s: Session = db::connect(&params, &setup, Instant::now() + Duration::from_secs(30))?;
    let sql = |q: &str| CString::new(q).expect("static SQL");
    s.exec(&sql("BEGIN"), deadline())?;
    if let Some(set) = reference.sql()? {
        s.exec(&set, deadline())?;
    }
    let copy = CString::new(format!("COPY {} (line) FROM STDIN", config.table))
        .expect("validated table name");
    s.copy_begin(&copy, deadline())?;
    // On a read error the session is dropped mid-COPY: the server rolls back.
    let counts = encode_lines(input, |rows| Ok(s.copy_put(rows, deadline())?))?;
    s.copy_end(deadline())?;
    // The inbox trigger counts this transaction's new lines (unset: not pg_else).
    let stored = s
        .query_value(
            &sql("SELECT current_setting('maillog.lines_stored', true)"),
            deadline(),
        )?
        .and_then(|v| v.parse().ok());
    s.exec(&sql("COMMIT"), deadline())?;
    Ok((counts, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(input: &[u8]) -> (Vec<u8>, Counts) {
        let mut out = Vec::new();
        let counts = encode_lines(&mut &input[..], |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        (out, counts)
    }

    #[test]
    fn bytes_are_encoded_as_omelse_encodes_them() {
        let (rows, n) = encode(b"nul \0 and \x80\xa2\xff\n\\. alone\nlone \r inside\r\n");
        assert_eq!(
            rows,
            b"nul \\\\x00 and \\\\x80\\\\xa2\\\\xff\n\\\\. alone\nlone \\r inside\n".to_vec()
        );
        assert_eq!((n.lines, n.unterminated), (3, false));
    }

    #[test]
    fn long_lines_and_many_buffers() {
        let mut input = Vec::new();
        for i in 0..40u8 {
            input.extend(std::iter::repeat_n(b'a' + i % 26, 65536));
            input.push(b'\n');
        }
        let mut calls = 0;
        let mut total = 0;
        let n = encode_lines(&mut &input[..], |b| {
            calls += 1;
            total += b.len();
            Ok(())
        })
        .unwrap();
        assert_eq!((n.lines, n.bytes), (40, 40 * 65536));
        assert_eq!(total, 40 * 65537);
        assert!(calls >= 2, "flushed in pieces, got {calls}");
    }

    #[test]
    fn gzip_is_recognised_by_content() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let text = b"Nov  8 10:00:01 mx1 postfix/smtpd[1]: connect\n".repeat(3);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&text).unwrap();
        let mut twice = gz.finish().unwrap();
        twice.extend_from_slice(&twice.clone());
        let mut r = open(io::Cursor::new(twice)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, text.repeat(2), "both gzip members are read");
        let mut plain = open(io::Cursor::new(text.clone())).unwrap();
        let mut out = Vec::new();
        plain.read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn reference_sql_quotes_user_text() {
        let sql = Reference::Text("2021-02-01 o'clock".into())
            .sql()
            .unwrap()
            .unwrap();
        assert!(sql
            .to_str()
            .unwrap()
            .contains("'2021-02-01 o''clock'::timestamptz"));
        assert!(Reference::Text("x\\'".into()).sql().is_err());
        assert_eq!(Reference::Now.sql().unwrap(), None);
        let r = Reference::of_mtime(UNIX_EPOCH + Duration::from_secs(1_600_000_000));
        assert_eq!(r, Reference::Unix(1_600_000_000.0));
        assert!(matches!(
            Reference::of_mtime(SystemTime::now() + Duration::from_secs(86_400)),
            Reference::Unix(s) if s <= SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
        ));
    }
}
