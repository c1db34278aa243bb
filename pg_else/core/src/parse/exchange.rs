//! Microsoft Exchange message tracking log rows (30-field CSV).
use super::header::rfc3339_exact;
use super::postfix::event;
use super::{Event, Kind};

/// Cheap test before the real parse: an ISO date-time followed by a comma.
pub fn looks_like(msg: &str) -> bool {
    let b = msg.as_bytes();
    b.len() > 40
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && memchr::memchr(b',', &b[..40]).is_some()
}

/// One row: `date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,
/// connector-id,source,event-id,internal-message-id,message-id,network-message-id,
/// recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,
/// reference,message-subject,sender-address,return-path,message-info,directionality,...`.
///
/// Zero-copy: a quoted field is returned *without* its outer quotes but with its
/// inner `""` escapes left doubled (unquoting would need an allocation).
///
/// ```
/// use maillog_core::parse::{parse_message, Kind, Time};
/// let row = "2024-01-25T15:16:09.949Z,10.0.0.2,ex.example,10.0.0.1,ex,ctx,conn,SMTP,RECEIVE,7091,<m@x>,nid,b@y;c@y,,7229,2,,,\"Hi, \"\"you\"\"\",a@x,a@x,,Incoming,,,,,Email,lid,15.02";
/// let e = parse_message("", row);
/// assert_eq!((e.kind, e.queue_id, e.fields.action), (Kind::Exchange, Some("7091"), Some("RECEIVE")));
/// assert_eq!((e.fields.message_id, e.fields.recipient, e.fields.nrcpt), (Some("m@x"), Some("b@y;c@y"), Some(2)));
/// assert_eq!(e.fields.subject, Some("Hi, \"\"you\"\""));
/// assert_eq!(e.fields.event_time, Some(Time::Utc(1_706_195_769_949_000)));
/// ```
pub fn parse(msg: &str) -> Option<Event<'_>> {
    let mut cols: [&str; 30] = [""; 30];
    let mut n = 0;
    let b = msg.as_bytes();
    let mut p = 0;
    loop {
        let (field, next) = if b.get(p) == Some(&b'"') {
            // quoted: ends at a `"` not followed by another `"`
            let mut q = p + 1;
            loop {
                match memchr::memchr(b'"', &b[q..]) {
                    Some(i) if b.get(q + i + 1) == Some(&b'"') => q += i + 2,
                    Some(i) => break (&msg[p + 1..q + i], q + i + 1),
                    None => return None,
                }
            }
        } else {
            let end = memchr::memchr(b',', &b[p..]).map_or(b.len(), |i| p + i);
            (&msg[p..end], end)
        };
        if n < cols.len() {
            cols[n] = field;
        }
        n += 1;
        match b.get(next) {
            Some(b',') => p = next + 1,
            None => break,
            Some(_) => return None,
        }
    }
    // Exchange 2013+ writes 30 columns, older versions a few less.
    if !(26..=32).contains(&n) {
        return None;
    }
    let event_time = rfc3339_exact(cols[0])?;
    let nz = |s: &&str| !s.is_empty();
    let mut e = event(Kind::Exchange, None);
    e.queue_id = Some(cols[9]).filter(nz);
    let f = &mut e.fields;
    f.event_time = Some(event_time);
    f.action = Some(cols[8]).filter(nz);
    f.client_ip = Some(cols[1]).filter(nz);
    f.client_name = Some(cols[2]).filter(nz);
    f.message_id = Some(cols[10].trim_start_matches('<').trim_end_matches('>')).filter(nz);
    f.recipient = Some(cols[12]).filter(nz);
    f.recipient_list = f.recipient.filter(|r| r.contains(';'));
    f.status = Some(cols[13]).filter(nz);
    f.size = cols[14].parse().ok();
    f.nrcpt = cols[15].parse().ok();
    f.subject = Some(cols[18]).filter(nz);
    f.sender = Some(cols[19]).filter(nz);
    f.response = Some(cols[5]).filter(nz);
    Some(e)
}
