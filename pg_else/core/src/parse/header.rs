//! Syslog framing: RFC 3164, RFC 3339 (rsyslog file format), RFC 5424, and the
//! split fields omelse sends. STUB: the parser issue replaces this body.

/// Microseconds since 1970-01-01 00:00:00.
pub type Micros = i64;

/// A timestamp as the line states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// An absolute instant (the line carried a zone or offset), microseconds since the epoch, UTC.
    Utc(Micros),
    /// Wall-clock time without zone (RFC 3164): microseconds since 1970-01-01 00:00:00 of the
    /// *server's* zone; the SQL layer converts it with the server's TimeZone setting.
    Local(Micros),
}

/// What the parser needs to know about "now": RFC 3164 has no year, so the year is
/// inferred so that the line is not more than ~1 month in the future of `reference_local`.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Current wall-clock time in the server's zone, as [`Time::Local`] micros.
    pub reference_local: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header<'a> {
    pub time: Option<Time>,
    pub host: Option<&'a str>,
    /// Syslog tag without pid, e.g. `postfix/smtpd`, `postfix-out/smtp`, `amavis`
    pub program: Option<&'a str>,
    pub pid: Option<i32>,
    /// The message after `tag: ` (the whole line when no header was recognised)
    pub message: &'a str,
}

/// Split a syslog header off `line`. Never fails: without a recognisable header all
/// fields are `None` and `message` is the whole line.
pub fn parse_header<'a>(line: &'a str, _ctx: &Context) -> Header<'a> {
    Header { time: None, host: None, program: None, pid: None, message: line }
}

/// Split an rsyslog `syslogtag` (`postfix/smtpd[123]:`) into program and pid.
pub fn split_tag(tag: &str) -> (&str, Option<i32>) {
    let tag = tag.trim().trim_end_matches(':');
    match tag.find('[') {
        Some(i) => (&tag[..i], tag[i + 1..].trim_end_matches(']').parse().ok()),
        None => (tag, None),
    }
}
