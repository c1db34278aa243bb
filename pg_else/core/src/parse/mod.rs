//! Parsing of one log line into an [`Event`].
//!
//! Two stages: [`header`] splits the syslog framing (RFC 3164, RFC 3339, RFC 5424,
//! or the already-split fields omelse sends) from the message, then the program's
//! own parser turns the message into an [`Event`]. Parsing never fails: a line no
//! parser understands becomes [`Kind::Other`] and keeps its text.
//!
//! Everything borrows from the input line: no per-line allocation on the hot path.

mod amavis;
mod display;
mod dovecot;
mod exchange;
mod greylse;
pub mod header;
mod message;
pub mod postfix;
mod scan;

pub use header::{civil_from_days, parse_header, split_tag, Context, Header, Time};
pub use message::parse_message;
pub use scan::is_queue_id;

/// What a line says. The names (see [`Kind::as_str`]) are the SQL-visible
/// `kind` values and part of the public contract with `maillog.*` functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// smtpd/postscreen `connect from host[ip]`
    Connect,
    /// smtpd `disconnect from ...` (with command counters)
    Disconnect,
    /// smtpd `lost connection after X from ...`, `timeout after ...`
    LostConnection,
    /// smtpd `QID: client=host[ip]` (+ SASL); the start of a queue entry received over SMTP
    Client,
    /// pickup `QID: uid=N from=<x>`; the start of a locally submitted queue entry
    Pickup,
    /// A refusal or policy action before or during queueing: smtpd `NOQUEUE: reject:` /
    /// `QID: reject:` (and warn/hold/discard/filter/redirect, see `Fields::action`),
    /// cleanup `milter-reject`, header/body checks, postscreen rejects.
    Reject,
    /// cleanup `QID: message-id=<...>` (also resent-message-id)
    MessageId,
    /// qmgr `QID: from=<x>, size=N, nrcpt=N (queue active)`
    Queued,
    /// qmgr `QID: removed`
    Removed,
    /// qmgr `QID: from=<x>, status=expired, returned to sender`
    Expired,
    /// smtp/lmtp/local/virtual/pipe/error/retry/discard `QID: to=<x>, ..., status=...`
    Delivery,
    /// bounce `QID: sender non-delivery notification: NEWQID` (and delay/success notifications)
    Notification,
    /// postsuper `QID: removed` / `placed on hold` / `released from hold` / `requeued`
    Postsuper,
    /// TLS connection established (smtpd/smtp/postscreen)
    Tls,
    /// postscreen bookkeeping: CONNECT, PASS NEW/OLD, DNSBL rank, PREGREET, HANGUP, ...
    Postscreen,
    /// dnsblog `addr x listed by domain y as z`
    Dnsblog,
    /// anvil statistics
    Anvil,
    /// master daemon start/stop/reload
    Master,
    /// amavis `Passed`/`Blocked` result lines
    Amavis,
    /// dovecot lda/lmtp delivery result (saved, sieve discard/redirect, quota)
    Dovecot,
    /// One row of Microsoft Exchange message tracking (event id in `Fields::action`)
    Exchange,
    /// SASL authentication failure
    SaslFailure,
    /// A policy server's decision on one RCPT TO (GreyLSE: greylisted, rejected, accepted, ...)
    Policy,
    /// `warning:` lines of any Postfix program
    Warning,
    /// `fatal:` / `panic:` / `error:` lines
    Fatal,
    /// Anything else: kept, counted, never an error.
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Disconnect => "disconnect",
            Kind::LostConnection => "lost-connection",
            Kind::Client => "client",
            Kind::Pickup => "pickup",
            Kind::Reject => "reject",
            Kind::MessageId => "message-id",
            Kind::Queued => "queued",
            Kind::Removed => "removed",
            Kind::Expired => "expired",
            Kind::Delivery => "delivery",
            Kind::Notification => "notification",
            Kind::Postsuper => "postsuper",
            Kind::Tls => "tls",
            Kind::Postscreen => "postscreen",
            Kind::Dnsblog => "dnsblog",
            Kind::Anvil => "anvil",
            Kind::Master => "master",
            Kind::Amavis => "amavis",
            Kind::Dovecot => "dovecot",
            Kind::Exchange => "exchange",
            Kind::SaslFailure => "sasl-failure",
            Kind::Policy => "policy",
            Kind::Warning => "warning",
            Kind::Fatal => "fatal",
            Kind::Other => "other",
        }
    }
}

/// The fields a line can carry. Which are set depends on the kind; all borrow
/// from the line. Addresses are as logged (not lower-cased, brackets removed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a> {
    /// Client host name as logged (`unknown` kept), e.g. `mail.example.com`
    pub client_name: Option<&'a str>,
    /// Client IP address, e.g. `192.0.2.1` or `2001:db8::1`
    pub client_ip: Option<&'a str>,
    /// `from=<...>` (empty string for the null sender `<>`)
    pub sender: Option<&'a str>,
    /// `to=<...>`; for Exchange the `recipient-address` field (may hold `;`-separated addresses)
    pub recipient: Option<&'a str>,
    /// A line's recipients when it may name several, as logged: amavis `<a>,<b>`,
    /// Exchange `a;b` (see [`Fields::recipients`]); `recipient` is then the first
    /// (amavis) or the list (Exchange)
    pub recipient_list: Option<&'a str>,
    /// `orig_to=<...>`
    pub orig_recipient: Option<&'a str>,
    /// `relay=...` as logged (e.g. `mx.example.net[203.0.113.5]:25`, `local`, `none`); the
    /// peer of outgoing TLS/connection warnings; the DNSBL domain of a `dnsblog` line
    pub relay: Option<&'a str>,
    /// `delay=` in seconds
    pub delay: Option<f64>,
    /// `delays=a/b/c/d` as logged
    pub delays: Option<&'a str>,
    /// `dsn=` (also the enhanced status code of a reject, e.g. `5.7.1`)
    pub dsn: Option<&'a str>,
    /// `status=` word (`sent`, `deferred`, `bounced`, `expired`, ...); for Exchange recipient-status;
    /// amavis `{...}` disposition; the DNSBL answer of a `dnsblog` line
    pub status: Option<&'a str>,
    /// The free text: the reply in parentheses after the status, or the reject/warning reason;
    /// disconnect command counters; Exchange source-context
    pub response: Option<&'a str>,
    /// Message-ID with angle brackets removed
    pub message_id: Option<&'a str>,
    /// `size=` in bytes (qmgr, Exchange total-bytes)
    pub size: Option<i64>,
    /// `nrcpt=` (qmgr), Exchange recipient-count
    pub nrcpt: Option<i32>,
    /// Queue ID of the next hop or notification: `queued as X` in a reply, amavis `queued_as: X`,
    /// bounce `notification: X`
    pub next_queue_id: Option<&'a str>,
    /// Action of a reject-family line: `reject`, `warn`, `hold`, `discard`, `filter`, `redirect`,
    /// `replace`, `prepend`, `milter-reject`; Exchange event id (`RECEIVE`, `DELIVER`, ...);
    /// amavis result (`Passed`/`Blocked`); postscreen/postsuper/dovecot verb; also
    /// `proxy-reject`/`proxy-accept`/`reject_warning`/`info`; the TLS level of a `tls` line
    /// (`Anonymous`, `Trusted`, ...); `lost connection`/`timeout`/`too many errors`;
    /// for warnings that are not `warning:` lines the phrase (`said`, `connect to`, ...)
    pub action: Option<&'a str>,
    /// SMTP stage of a reject (`RCPT`, `DATA`, `END-OF-MESSAGE`, `CONNECT`, `EHLO`, ...)
    pub stage: Option<&'a str>,
    /// `helo=<...>`
    pub helo: Option<&'a str>,
    /// `proto=` (SMTP/ESMTP)
    pub proto: Option<&'a str>,
    pub sasl_method: Option<&'a str>,
    pub sasl_username: Option<&'a str>,
    /// amavis content category (`CLEAN`, `SPAM`, `SPAMMY`, `INFECTED`, `BANNED`, ...)
    pub content: Option<&'a str>,
    /// amavis `mail_id`
    pub mail_id: Option<&'a str>,
    /// amavis `Hits:` score
    pub hits: Option<f64>,
    /// Exchange message subject
    pub subject: Option<&'a str>,
    /// The time the event states itself (Exchange `date-time`), preferred over the header's
    pub event_time: Option<Time>,
}

impl<'a> Fields<'a> {
    /// Every recipient a line names: each address of its recipient list (amavis,
    /// Exchange), else its `recipient`.
    ///
    /// ```
    /// use maillog_core::parse::parse_message;
    /// let e = parse_message("amavis", "(1-01) Passed CLEAN {RelayedInbound}, [192.0.2.1]:1 [192.0.2.1] <s@x> -> <a@y>,<B@z>, Queue-ID: 3F1A2B4C5D");
    /// assert_eq!(e.fields.recipients().collect::<Vec<_>>(), ["a@y", "B@z"]);
    /// let d = parse_message("postfix/smtp", "3F1A2B4C5D: to=<c@y>, relay=none, status=sent (ok)");
    /// assert_eq!(d.fields.recipients().collect::<Vec<_>>(), ["c@y"]);
    /// ```
    pub fn recipients(&self) -> impl Iterator<Item = &'a str> + '_ {
        let list = self.recipient_list.or(self.recipient).unwrap_or("");
        list.split([',', ';'])
            .map(|a| a.trim_matches([' ', '<', '>']))
            .filter(|a| !a.is_empty())
    }
}

/// One parsed message body. A Postfix line no parser understands is [`Kind::Other`]
/// but keeps its queue ID, so it still joins its message.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub kind: Kind,
    /// Postfix queue ID (short hex or long form), amavis Queue-ID, Exchange internal-message-id
    pub queue_id: Option<&'a str>,
    pub fields: Fields<'a>,
}

impl<'a> Event<'a> {
    pub fn other() -> Self {
        Event {
            kind: Kind::Other,
            queue_id: None,
            fields: Fields::default(),
        }
    }
}

/// A whole line: its header and its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub header: Header<'a>,
    pub event: Event<'a>,
}

/// Parse one raw log line (any header form [`parse_header`] accepts).
pub fn parse_line<'a>(line: &'a str, ctx: &Context) -> Parsed<'a> {
    let header = parse_header(line, ctx);
    let event = parse_message(header.program.unwrap_or(""), header.message);
    Parsed { header, event }
}
