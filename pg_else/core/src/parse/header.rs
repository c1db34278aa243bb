//! Syslog framing: RFC 3164, RFC 3339 (rsyslog file format), RFC 5424, and the
//! split fields omelse sends.
//!
//! All scanning is done on bytes and every slice of the line is cut at the
//! position of an ASCII byte (or the end), so it is always on a char boundary:
//! no input can make this module panic.

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
    /// The message after `tag: ` as logged (the whole line when no header was
    /// recognised). Wrappers a syslog daemon put around it are removed only when it
    /// is parsed, see [`message_body`].
    pub message: &'a str,
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;
/// How far in the future of the reference a year-less line may be before it is
/// taken to belong to the previous year (clock skew, logs of hosts slightly ahead).
pub const FUTURE_WINDOW: i64 = 31 * MICROS_PER_DAY;

/// Split a syslog header off `line`. Never fails: without a recognisable header all
/// fields are `None` and `message` is the whole line.
///
/// ```
/// use maillog_core::parse::{parse_header, Context, Time};
/// // reference: 2026-12-01 00:00 local
/// let ctx = Context { reference_local: 1_796_083_200_000_000 };
/// let h = parse_header("Nov 28 10:00:01 mx1 postfix/smtpd[123]: connect from a[192.0.2.1]", &ctx);
/// assert_eq!(h.host, Some("mx1"));
/// assert_eq!(h.program, Some("postfix/smtpd"));
/// assert_eq!(h.pid, Some(123));
/// assert_eq!(h.message, "connect from a[192.0.2.1]");
/// assert!(matches!(h.time, Some(Time::Local(_))));
///
/// let h = parse_header("2026-11-28T10:00:01.5+01:00 mx1 amavis[7]: (07-01) Passed", &ctx);
/// assert_eq!(h.time, Some(Time::Utc(1_795_856_401_500_000)));
///
/// let h = parse_header("<22>1 2021-01-28T10:00:01+00:00 host APP 42 - [x@1 a=\"]\"] MSG", &ctx);
/// assert_eq!((h.program, h.pid, h.message), (Some("APP"), Some(42), "MSG"));
///
/// let h = parse_header("no header here", &ctx);
/// assert_eq!((h.time, h.message), (None, "no header here"));
/// ```
pub fn parse_header<'a>(line: &'a str, ctx: &Context) -> Header<'a> {
    let line = line.trim_end_matches(['\r', '\n']);
    let none = Header {
        time: None,
        host: None,
        program: None,
        pid: None,
        message: line,
    };
    let b = line.as_bytes();
    let mut p = 0;
    if b.first() == Some(&b'<') {
        // <PRI>: 1-3 digits
        let mut i = 1;
        while i < b.len() && i <= 4 && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > 1 && i < b.len() && b[i] == b'>' {
            p = i + 1;
            if b.get(p) == Some(&b'1') && b.get(p + 1) == Some(&b' ') {
                return rfc5424(line, p + 2).unwrap_or(none);
            }
        } else {
            return none;
        }
    }
    let rest = &b[p..];
    let parsed = if rest.first().is_some_and(|c| c.is_ascii_digit()) {
        rfc3339(rest)
            .or_else(|| unix_seconds(rest))
            .and_then(|(t, n)| (rest.get(n) == Some(&b' ')).then_some((t, p + n + 1)))
    } else {
        rfc3164(rest, ctx).map(|(t, n)| (t, p + n))
    };
    match parsed {
        Some((time, at)) => host_and_tag(line, at, Some(time)),
        None => none,
    }
}

/// After the timestamp: `host tag[pid]: message`. A missing host is recognised by
/// the first token ending in `:` or `]:` (some relays strip it). FreeBSD's
/// syslogd `-v` (`-vv`) writes the facility and level before the host,
/// `<2.6>` (`<mail.info>`): skipped.
fn host_and_tag(line: &str, at: usize, time: Option<Time>) -> Header<'_> {
    let b = line.as_bytes();
    let at = at + facility_level_len(&b[at.min(b.len())..]);
    let host_end = find_byte(b, at, b' ').unwrap_or(b.len());
    let host = &line[at..host_end];
    if host.ends_with(':') {
        let (program, pid, message) = tag(line, at);
        return Header {
            time,
            host: None,
            program,
            pid,
            message,
        };
    }
    let host = if host.is_empty() { None } else { Some(host) };
    let (program, pid, message) = tag(line, (host_end + 1).min(b.len()));
    Header {
        time,
        host,
        program,
        pid,
        message,
    }
}

/// Length of a leading `<facility.level> ` (digits or lower-case names), else 0.
fn facility_level_len(b: &[u8]) -> usize {
    if b.first() != Some(&b'<') {
        return 0;
    }
    let word = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let Some(close) = b.iter().take(24).position(|&c| c == b'>') else {
        return 0;
    };
    match b[1..close].iter().position(|&c| c == b'.') {
        Some(dot)
            if word(&b[1..1 + dot])
                && word(&b[2 + dot..close])
                && b.get(close + 1) == Some(&b' ') =>
        {
            close + 2
        }
        _ => 0,
    }
}

/// `prog[pid]: message` or `prog: message` at `at`; otherwise no program and the
/// message is everything from `at`.
fn tag(line: &str, at: usize) -> (Option<&str>, Option<i32>, &str) {
    let b = line.as_bytes();
    let mut i = at;
    while i < b.len() && !matches!(b[i], b':' | b'[' | b' ') {
        i += 1;
    }
    let program = &line[at..i];
    if program.is_empty() || i >= b.len() || b[i] == b' ' {
        return (None, None, &line[at..]);
    }
    let mut pid = None;
    if b[i] == b'[' {
        let Some(close) = find_byte(b, i, b']') else {
            return (None, None, &line[at..]);
        };
        pid = line[i + 1..close].parse().ok();
        i = close + 1;
        if b.get(i) != Some(&b':') {
            return (None, None, &line[at..]);
        }
    }
    // b[i] == ':'
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    (Some(program), pid, &line[i..])
}

/// RFC 5424 after `<PRI>1 `: `TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
fn rfc5424(line: &str, mut p: usize) -> Option<Header<'_>> {
    let b = line.as_bytes();
    let field = |p: &mut usize| -> Option<&str> {
        let end = find_byte(b, *p, b' ')?;
        let s = &line[*p..end];
        *p = end + 1;
        Some(s)
    };
    let ts = field(&mut p)?;
    let host = field(&mut p)?;
    let app = field(&mut p)?;
    let procid = field(&mut p)?;
    let _msgid = field(&mut p)?;
    let time = if ts == "-" {
        None
    } else {
        let (t, n) = rfc3339(ts.as_bytes())?;
        if n != ts.len() {
            return None;
        }
        Some(t)
    };
    // Structured data: `-` or one or more `[id param="value" ...]`; values may hold
    // `\"`, `\]` and `\\` escapes.
    if b.get(p) == Some(&b'-') {
        p += 1;
    } else {
        while b.get(p) == Some(&b'[') {
            p += 1;
            let mut in_quote = false;
            loop {
                match b.get(p)? {
                    b'\\' if in_quote => p += 1,
                    b'"' => in_quote = !in_quote,
                    b']' if !in_quote => break,
                    _ => {}
                }
                p += 1;
            }
            p += 1;
        }
    }
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    let mut message = line.get(p..)?;
    message = message.strip_prefix('\u{feff}').unwrap_or(message);
    fn nil(s: &str) -> Option<&str> {
        (s != "-").then_some(s)
    }
    Some(Header {
        time,
        host: nil(host),
        program: nil(app),
        pid: procid.parse().ok(),
        message,
    })
}

/// RFC 3339 timestamp at the start of `b`: returns the time and the bytes consumed.
/// Without an offset the time is wall-clock ([`Time::Local`]).
fn rfc3339(b: &[u8]) -> Option<(Time, usize)> {
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let (secs, mut p) = clock(b, 11)?;
    let micros = fraction(b, &mut p)?;
    let days = civil_days(year, month, day)?;
    let local = days * MICROS_PER_DAY + secs * MICROS_PER_SEC + micros;
    match b.get(p) {
        Some(b'Z' | b'z') => Some((Time::Utc(local), p + 1)),
        Some(&sign @ (b'+' | b'-')) => {
            let h = digits(b, p + 1, 2)?;
            // `+hh:mm` (RFC 3339) or `+hhmm` (ISO 8601 basic, e.g. strftime's
            // `%z`): the timestamp must end right after it, so both are unambiguous.
            let m_at = if b.get(p + 3) == Some(&b':') {
                p + 4
            } else {
                p + 3
            };
            let m = digits(b, m_at, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) * 60 * MICROS_PER_SEC;
            let utc = if sign == b'+' {
                local - off
            } else {
                local + off
            };
            Some((Time::Utc(utc), m_at + 2))
        }
        _ => Some((Time::Local(local), p)),
    }
}

/// Seconds since the epoch with an optional fraction, as `journalctl -o
/// short-unix` writes them (`1764320401.123456 host prog[pid]: ...`). At least
/// nine digits (from 1973 on), so a number in a header-less line is not a time.
fn unix_seconds(b: &[u8]) -> Option<(Time, usize)> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(9..=11).contains(&n) {
        return None;
    }
    let secs = digits(b, 0, n)?;
    let mut p = n;
    let micros = fraction(b, &mut p)?;
    Some((Time::Utc(secs * MICROS_PER_SEC + micros), p))
}

/// A whole string that is an RFC 3339 timestamp.
pub(crate) fn rfc3339_exact(s: &str) -> Option<Time> {
    rfc3339(s.as_bytes()).and_then(|(t, n)| (n == s.len()).then_some(t))
}

/// RFC 3164 `Mmm dd hh:mm:ss ` (day space- or zero-padded, optional fraction) at
/// the start of `b`; returns the time and the bytes consumed including the space.
fn rfc3164(b: &[u8], ctx: &Context) -> Option<(Time, usize)> {
    let month = month(b.get(..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut p = 4;
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    let day = if b.get(p + 1).is_some_and(u8::is_ascii_digit) {
        p += 2;
        digits(b, p - 2, 2)?
    } else {
        p += 1;
        digits(b, p - 1, 1)?
    };
    if b.get(p) != Some(&b' ') {
        return None;
    }
    // Some devices and syslog daemons write the year before the time
    // (`Nov 28 2026 10:00:01`, Cisco) or after it (`Nov 28 10:00:01 2026`).
    let mut year = stated_year(b, p + 1);
    if year.is_some() {
        p += 5;
    }
    let (secs, mut p) = clock(b, p + 1)?;
    let micros = fraction(b, &mut p)?;
    if b.get(p) != Some(&b' ') {
        return None;
    }
    if year.is_none() {
        year = stated_year(b, p + 1);
        if year.is_some() {
            p += 5;
        }
    }
    let tod = secs * MICROS_PER_SEC + micros;
    let t = match year {
        Some(y) => civil_days(y, month, day)? * MICROS_PER_DAY + tod,
        None => infer_year(month, day, tod, ctx.reference_local)?,
    };
    Some((Time::Local(t), p + 1))
}

/// A four-digit year from 1970 to 2199 at `p`, followed by a space (a host
/// name of four such digits would be read as a year: none was ever seen).
fn stated_year(b: &[u8], p: usize) -> Option<i64> {
    let y = digits(b, p, 4)?;
    ((1970..=2199).contains(&y) && b.get(p + 4) == Some(&b' ')).then_some(y)
}

/// A wall-clock time that another program dated by guessing the year of a
/// year-less (RFC 3164) line: rsyslog gives such lines the current year, so on
/// January 1st a line of December 31st arrives dated twelve months ahead. A time
/// further ahead of the reference than a year-less line may be, but less than a
/// year and that window ahead, gets its year inferred as an RFC 3164 line would;
/// any other time is kept (a far-off date is the line's own, not a guess).
///
/// ```
/// use maillog_core::parse::header::{reinfer_guessed_year, Context};
/// const DAY: i64 = 86_400_000_000;
/// // reference: 2027-01-01 00:05 local; the line: 2027-12-31 23:55 (rsyslog's guess)
/// let ctx = Context { reference_local: 1_798_761_900_000_000 };
/// let guessed = 1_830_297_300_000_000;
/// assert_eq!(reinfer_guessed_year(guessed, &ctx), guessed - 365 * DAY);
/// // Within the window, or far off: unchanged.
/// assert_eq!(reinfer_guessed_year(ctx.reference_local + DAY, &ctx), ctx.reference_local + DAY);
/// assert_eq!(reinfer_guessed_year(ctx.reference_local + 800 * DAY, &ctx), ctx.reference_local + 800 * DAY);
/// ```
pub fn reinfer_guessed_year(local: Micros, ctx: &Context) -> Micros {
    let ahead = local - ctx.reference_local;
    if ahead <= FUTURE_WINDOW || ahead > 366 * MICROS_PER_DAY + FUTURE_WINDOW {
        return local;
    }
    let (_, month, day) = civil_from_days(local.div_euclid(MICROS_PER_DAY));
    infer_year(
        month,
        day,
        local.rem_euclid(MICROS_PER_DAY),
        ctx.reference_local,
    )
    .unwrap_or(local)
}

/// The latest of next/this/previous year that puts the date no more than
/// [`FUTURE_WINDOW`] after the reference (Feb 29 skips non-leap years).
fn infer_year(month: i64, day: i64, tod: Micros, reference: Micros) -> Option<Micros> {
    let (ref_year, _, _) = civil_from_days(reference.div_euclid(MICROS_PER_DAY));
    (-1..=1)
        .rev()
        .filter_map(|dy| civil_days(ref_year + dy, month, day))
        .map(|days| days * MICROS_PER_DAY + tod)
        .find(|t| *t <= reference + FUTURE_WINDOW)
        .or_else(|| {
            (-4..-1)
                .rev()
                .find_map(|dy| civil_days(ref_year + dy, month, day))
                .map(|d| d * MICROS_PER_DAY + tod)
        })
}

fn month(m: &[u8]) -> Option<i64> {
    const NAMES: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let l = [
        m[0].to_ascii_lowercase(),
        m[1].to_ascii_lowercase(),
        m[2].to_ascii_lowercase(),
    ];
    NAMES.iter().position(|n| **n == l).map(|i| i as i64 + 1)
}

/// `hh:mm:ss` at `p`: seconds of the day and the position after it.
fn clock(b: &[u8], p: usize) -> Option<(i64, usize)> {
    let h = digits(b, p, 2)?;
    let m = digits(b, p + 3, 2)?;
    let s = digits(b, p + 6, 2)?;
    if b.get(p + 2) != Some(&b':') || b.get(p + 5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h * 3600 + m * 60 + s, p + 8))
}

/// Optional `.ffffff` at `*p` as microseconds (digits past the sixth are ignored).
/// A `.` without digits is no fraction and no timestamp (RFC 3339 `time-secfrac`
/// is `"." 1*DIGIT`).
fn fraction(b: &[u8], p: &mut usize) -> Option<i64> {
    if b.get(*p) != Some(&b'.') {
        return Some(0);
    }
    if !b.get(*p + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    *p += 1;
    let (mut v, mut n) = (0i64, 0);
    while let Some(c) = b.get(*p).filter(|c| c.is_ascii_digit()) {
        if n < 6 {
            v = v * 10 + i64::from(c - b'0');
            n += 1;
        }
        *p += 1;
    }
    while n < 6 {
        v *= 10;
        n += 1;
    }
    Some(v)
}

fn digits(b: &[u8], p: usize, n: usize) -> Option<i64> {
    let s = b.get(p..p + n)?;
    s.iter().try_fold(0i64, |v, c| {
        c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
    })
}

fn find_byte(b: &[u8], from: usize, c: u8) -> Option<usize> {
    memchr::memchr(c, b.get(from..)?).map(|i| i + from)
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn civil_days(y: i64, m: i64, d: i64) -> Option<i64> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > dim[(m - 1) as usize] {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Inverse of [`civil_days`]: (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The message a program logged, without what a syslog daemon wrapped around it:
/// rsyslog's repeated-message reduction `message repeated N times: [ MSG]`, then
/// the Solaris/illumos message ID `[ID 197553 mail.info] MSG` (added where the
/// line was first logged, so it sits inside the rsyslog wrapper). Applied by
/// [`parse_message`](super::parse_message), not to [`Header::message`]: that one
/// is stored as logged, and the fields rsyslog sends already split take the same
/// route as raw lines.
///
/// ```
/// use maillog_core::parse::header::message_body;
/// assert_eq!(message_body("[ID 197553 mail.info] 8B22B43C3: client=a[192.0.2.1]"), "8B22B43C3: client=a[192.0.2.1]");
/// assert_eq!(message_body("message repeated 3 times: [ warning: x]"), "warning: x");
/// assert_eq!(message_body("[ID 1 mail] x"), "[ID 1 mail] x");
/// ```
pub fn message_body(message: &str) -> &str {
    strip_message_id(unwrap_repeated(message))
}

/// rsyslog's `message repeated N times: [MSG]`; MSG keeps the space rsyslog puts
/// before every RFC 3164 message, which is dropped like the one after the tag.
fn unwrap_repeated(m: &str) -> &str {
    let Some(rest) = m.strip_prefix("message repeated ") else {
        return m;
    };
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let inner = rest[n..]
        .strip_prefix(" times: [")
        .and_then(|r| r.strip_suffix(']'));
    match inner {
        Some(inner) if n > 0 => inner.strip_prefix(' ').unwrap_or(inner),
        _ => m,
    }
}

/// Solaris/illumos `[ID <msgid> <facility>.<level>] ` before the message: only
/// this exact form (decimal ID, lower-case names), so ordinary bracketed text stays.
fn strip_message_id(m: &str) -> &str {
    let b = m.as_bytes();
    if !b.starts_with(b"[ID ") {
        return m;
    }
    // Length of the run at `at` of bytes matching `f`.
    let run = |at: usize, f: fn(&u8) -> bool| {
        b.get(at..)
            .map_or(0, |r| r.iter().take_while(|c| f(c)).count())
    };
    let mut p = 4;
    let id = run(p, u8::is_ascii_digit);
    p += id;
    if id == 0 || b.get(p) != Some(&b' ') {
        return m;
    }
    p += 1;
    let facility = run(p, |c| c.is_ascii_lowercase() || c.is_ascii_digit());
    p += facility;
    if facility == 0 || b.get(p) != Some(&b'.') {
        return m;
    }
    p += 1;
    let level = run(p, u8::is_ascii_lowercase);
    p += level;
    if level == 0 || b.get(p..p + 2) != Some(b"] ") {
        return m;
    }
    &m[p + 2..]
}

/// Split an rsyslog `syslogtag` (`postfix/smtpd[123]:`) into program and pid.
///
/// ```
/// use maillog_core::parse::split_tag;
/// assert_eq!(split_tag("postfix/smtpd[123]:"), ("postfix/smtpd", Some(123)));
/// assert_eq!(split_tag("dovecot:"), ("dovecot", None));
/// ```
pub fn split_tag(tag: &str) -> (&str, Option<i32>) {
    let tag = tag.trim().trim_end_matches(':');
    match tag.find('[') {
        Some(i) => (&tag[..i], tag[i + 1..].trim_end_matches(']').parse().ok()),
        None => (tag, None),
    }
}
