//! The outcome of one recipient of one journey.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Still pending: the last attempt was a temporary failure, or no attempt yet.
    Deferred,
    Sent,
    Bounced,
    Expired,
    Rejected,
    Held,
    Discarded,
    /// Refused for now by a greylisting policy server; a retry may be accepted.
    Greylisted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Deferred => "deferred",
            Status::Sent => "sent",
            Status::Bounced => "bounced",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
            Status::Held => "held",
            Status::Discarded => "discarded",
            Status::Greylisted => "greylisted",
        }
    }

    /// Every status, in the order the API documents them.
    pub const ALL: [Status; 8] = [
        Status::Sent,
        Status::Deferred,
        Status::Bounced,
        Status::Expired,
        Status::Rejected,
        Status::Held,
        Status::Discarded,
        Status::Greylisted,
    ];

    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Map a Postfix `status=` word. `undeliverable`/`deliverable` come from
    /// address verification probes and are not mail; they read as bounced/sent.
    pub fn from_postfix(word: &str) -> Option<Status> {
        POSTFIX_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, s)| *s)
    }

    /// The status a reject-family action gives.
    pub fn from_action(action: &str) -> Option<Status> {
        ACTION_WORDS
            .iter()
            .find(|(w, _)| *w == action)
            .map(|(_, s)| *s)
    }

    /// The words stored in a line's `status` column that give this status
    /// (what a search by status looks up).
    ///
    /// ```
    /// use maillog_core::correlate::Status;
    /// assert_eq!(Status::Held.stored_words(), ["hold", "milter-hold", "placed on hold"]);
    /// assert_eq!(Status::Expired.stored_words(), ["expired"]);
    /// ```
    pub fn stored_words(self) -> Vec<&'static str> {
        POSTFIX_WORDS
            .iter()
            .chain(ACTION_WORDS)
            .filter(|(_, s)| *s == self)
            .map(|(w, _)| *w)
            .collect()
    }

    /// Final means no later line can change it (used when a pending recipient meets
    /// a message-level verdict such as expiry or hold).
    pub fn is_pending(self) -> bool {
        self == Status::Deferred
    }
}

/// Postfix's `status=` words of delivery lines.
const POSTFIX_WORDS: &[(&str, Status)] = &[
    ("sent", Status::Sent),
    ("deliverable", Status::Sent),
    ("deferred", Status::Deferred),
    ("bounced", Status::Bounced),
    ("undeliverable", Status::Bounced),
    ("expired", Status::Expired),
];

/// The actions of reject-family lines (smtpd, cleanup, milters, postsuper)
/// and of a policy server's decisions (Kind::Policy).
const ACTION_WORDS: &[(&str, Status)] = &[
    ("reject", Status::Rejected),
    ("milter-reject", Status::Rejected),
    ("proxy-reject", Status::Rejected),
    ("rejected", Status::Rejected),
    ("greylisted", Status::Greylisted),
    ("hold", Status::Held),
    ("milter-hold", Status::Held),
    ("placed on hold", Status::Held),
    ("discard", Status::Discarded),
    ("milter-discard", Status::Discarded),
];
