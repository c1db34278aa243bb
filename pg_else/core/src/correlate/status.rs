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

    /// Map a Postfix `status=` word. `undeliverable`/`deliverable` come from
    /// address verification probes and are not mail; they read as bounced/sent.
    pub fn from_postfix(word: &str) -> Option<Status> {
        Some(match word {
            "sent" | "deliverable" => Status::Sent,
            "deferred" => Status::Deferred,
            "bounced" | "undeliverable" => Status::Bounced,
            "expired" => Status::Expired,
            _ => return None,
        })
    }

    /// The status a reject-family action gives.
    pub fn from_action(action: &str) -> Option<Status> {
        Some(match action {
            "reject" | "milter-reject" | "proxy-reject" => Status::Rejected,
            // A policy server's words (Kind::Policy).
            "rejected" => Status::Rejected,
            "greylisted" => Status::Greylisted,
            "hold" | "milter-hold" => Status::Held,
            "discard" | "milter-discard" => Status::Discarded,
            _ => return None,
        })
    }

    /// Final means no later line can change it (used when a pending recipient meets
    /// a message-level verdict such as expiry or hold).
    pub fn is_pending(self) -> bool {
        self == Status::Deferred
    }
}
